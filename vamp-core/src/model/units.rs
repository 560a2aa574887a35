//! Unit values of the DSL: CPU quantities, memory sizes, percentages and durations.
//!
//! Each parses the original's spellings and writes one canonical spelling that parses back to the same value.

use std::fmt;

use serde::{Serialize, Serializer};

/// A CPU share: a number, or `"<n>m"` for thousandths (`500m` = 0.5). Written as a plain number.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Cpu(pub f64);

/// A memory size in megabytes: `"<n>MB"`, `"<n>M"`, `"<n>Mi"`, `"<n>GB"` (×1024), `"<n>Gi"`, `"<n>KB"` or a plain
/// number of megabytes, case-insensitive, spaces allowed. Written as `"<n>MB"`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Memory(pub f64);

/// A whole percentage 0..=100, written `"NN%"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Percentage(pub u8);

/// A duration in whole seconds: `<n>s|sec|second|seconds`, `<n>m|min|minute|minutes`, `<n>h|hrs|hour|hours` or a
/// bare integer of seconds. Written as `"<n>s"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Seconds(pub u64);

fn split_number(s: &str) -> Option<(f64, String)> {
    let s = s.trim();
    let end = s
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_digit() || *c == '.' || *c == '-' || *c == '+'))
        .map(|(i, _)| i)
        .unwrap_or(s.len());
    let number: f64 = s[..end].parse().ok()?;
    if !number.is_finite() {
        return None;
    }
    Some((number, s[end..].trim().to_ascii_lowercase()))
}

impl Cpu {
    /// Parses `0.5`, `"0.5"` or `"500m"`. Negative values are refused.
    pub fn parse(s: &str) -> Option<Cpu> {
        let (n, unit) = split_number(s)?;
        let v = match unit.as_str() {
            "" => n,
            "m" => n / 1000.0,
            _ => return None,
        };
        (v >= 0.0).then_some(Cpu(v))
    }
}

impl Memory {
    /// Parses a memory size into megabytes. Negative values are refused.
    pub fn parse(s: &str) -> Option<Memory> {
        let (n, unit) = split_number(s)?;
        let factor = match unit.as_str() {
            "" | "mb" | "m" | "mi" | "mib" => 1.0,
            "gb" | "g" | "gi" | "gib" => 1024.0,
            "kb" | "k" | "ki" | "kib" => 1.0 / 1024.0,
            _ => return None,
        };
        (n >= 0.0).then_some(Memory(n * factor))
    }
}

impl Percentage {
    /// Parses `"NN%"`, `"NN %"` or a bare integer, 0..=100.
    pub fn parse(s: &str) -> Option<Percentage> {
        let t = s.trim();
        let t = t.strip_suffix('%').unwrap_or(t).trim();
        let v: i64 = t.parse().ok()?;
        (0..=100).contains(&v).then_some(Percentage(v as u8))
    }
}

impl Seconds {
    /// Parses a duration with its unit.
    pub fn parse(s: &str) -> Option<Seconds> {
        let (n, unit) = split_number(s)?;
        if n < 0.0 || n.fract() != 0.0 {
            return None;
        }
        let factor = match unit.as_str() {
            "" | "s" | "sec" | "secs" | "second" | "seconds" => 1,
            "m" | "min" | "mins" | "minute" | "minutes" => 60,
            "h" | "hr" | "hrs" | "hour" | "hours" => 3600,
            _ => return None,
        };
        Some(Seconds(n as u64 * factor))
    }
}

fn trim_float(v: f64) -> String {
    let s = format!("{v}");
    if s.contains('.') || s.contains('e') {
        s
    } else {
        format!("{s}.0")
    }
}

impl fmt::Display for Cpu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&trim_float(self.0))
    }
}

impl fmt::Display for Memory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = format!("{}", self.0);
        write!(f, "{s}MB")
    }
}

impl fmt::Display for Percentage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0)
    }
}

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}s", self.0)
    }
}

impl Serialize for Cpu {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.0)
    }
}

macro_rules! serialize_as_display {
    ($($t:ty),*) => {$(
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    )*};
}
serialize_as_display!(Memory, Percentage, Seconds);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_accepts_millis() {
        assert_eq!(Cpu::parse("500m"), Some(Cpu(0.5)));
        assert_eq!(Cpu::parse("0.2"), Some(Cpu(0.2)));
        assert_eq!(Cpu::parse("-1"), None);
        assert_eq!(Cpu::parse("fast"), None);
    }

    #[test]
    fn memory_units_are_megabytes() {
        assert_eq!(Memory::parse("256MB"), Some(Memory(256.0)));
        assert_eq!(Memory::parse("120 mb"), Some(Memory(120.0)));
        assert_eq!(Memory::parse("1GB"), Some(Memory(1024.0)));
        assert_eq!(Memory::parse("512Mi"), Some(Memory(512.0)));
        assert_eq!(Memory::parse("lots"), None);
        assert_eq!(Memory::parse(&Memory(128.5).to_string()), Some(Memory(128.5)));
    }

    #[test]
    fn percentages_are_bounded() {
        assert_eq!(Percentage::parse("10 %"), Some(Percentage(10)));
        assert_eq!(Percentage::parse("100%"), Some(Percentage(100)));
        assert_eq!(Percentage::parse("101%"), None);
        assert_eq!(Percentage::parse("-1%"), None);
    }

    #[test]
    fn durations_have_units() {
        assert_eq!(Seconds::parse("10s"), Some(Seconds(10)));
        assert_eq!(Seconds::parse("2 minutes"), Some(Seconds(120)));
        assert_eq!(Seconds::parse("1h"), Some(Seconds(3600)));
        assert_eq!(Seconds::parse("30"), Some(Seconds(30)));
        assert_eq!(Seconds::parse("1.5s"), None);
    }
}
