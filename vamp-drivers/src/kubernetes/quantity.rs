//! Kubernetes resource quantities for Vamp's CPU shares and memory megabytes, both ways.
//!
//! Vamp's memory unit is the megabyte as Marathon counted it (2^20 bytes), so it is written as `Mi`. The API server
//! may hand quantities back in canonical form (`0.1` as `100m`, `1024Mi` as `1Gi`), so reading accepts every
//! suffix and exponent form of the Kubernetes quantity grammar.

const MEBIBYTE: f64 = 1_048_576.0;

/// The CPU request for `cpu` shares, in millicores (`0.1` → `100m`); a positive share below one millicore rounds
/// up to `1m`, the API server's precision.
pub fn cpu(cpu: f64) -> String {
    let millis = (cpu * 1000.0).round();
    if cpu > 0.0 && millis < 1.0 {
        "1m".to_string()
    } else {
        format!("{}m", millis.max(0.0))
    }
}

/// The memory quantity for `megabytes` (`64` → `64Mi`, `0.5` → `512Ki`).
pub fn memory(megabytes: f64) -> String {
    let megabytes = megabytes.max(0.0);
    if megabytes.fract() == 0.0 {
        format!("{megabytes}Mi")
    } else {
        format!("{}Ki", (megabytes * 1024.0).round())
    }
}

/// The value of a quantity in base units (cores, bytes), or `None` when `text` is not a quantity.
pub fn parse(text: &str) -> Option<f64> {
    let text = text.trim();
    let split = text
        .char_indices()
        .find(|(i, c)| !(c.is_ascii_digit() || *c == '.' || ((*c == '+' || *c == '-') && *i == 0)))
        .map_or(text.len(), |(i, _)| i);
    let (number, suffix) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => MEBIBYTE,
        "Gi" => MEBIBYTE * 1024.0,
        "Ti" => MEBIBYTE * MEBIBYTE,
        "Pi" => MEBIBYTE * MEBIBYTE * 1024.0,
        "Ei" => MEBIBYTE * MEBIBYTE * MEBIBYTE,
        exponent => {
            let digits = exponent.strip_prefix(['e', 'E'])?;
            10f64.powi(digits.parse::<i32>().ok()?)
        }
    };
    Some(number * factor)
}

/// CPU shares of a CPU quantity.
pub fn parse_cpu(text: &str) -> Option<f64> {
    parse(text)
}

/// Megabytes (2^20 bytes) of a memory quantity.
pub fn parse_memory(text: &str) -> Option<f64> {
    parse(text).map(|bytes| bytes / MEBIBYTE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_is_written_in_millicores() {
        assert_eq!(cpu(0.1), "100m");
        assert_eq!(cpu(0.3), "300m");
        assert_eq!(cpu(2.0), "2000m");
        assert_eq!(cpu(0.0001), "1m");
        assert_eq!(cpu(0.0), "0m");
    }

    #[test]
    fn memory_is_written_in_mebibytes() {
        assert_eq!(memory(64.0), "64Mi");
        assert_eq!(memory(0.5), "512Ki");
    }

    #[test]
    fn written_quantities_read_back_to_the_same_values() {
        for shares in [0.1, 0.3, 0.25, 1.0, 3.5] {
            assert_eq!(parse_cpu(&cpu(shares)), Some(shares));
        }
        for megabytes in [64.0, 0.5, 1024.0, 128.25] {
            assert_eq!(parse_memory(&memory(megabytes)), Some(megabytes));
        }
    }

    #[test]
    fn canonical_forms_of_the_api_server_are_read() {
        assert_eq!(parse_cpu("0.1"), Some(0.1));
        assert_eq!(parse_cpu("1"), Some(1.0));
        assert_eq!(parse_memory("1Gi"), Some(1024.0));
        assert_eq!(parse("1e3"), Some(1000.0));
        assert_eq!(parse("1E3"), Some(1000.0));
        assert_eq!(parse("2E"), Some(2e18));
        assert_eq!(parse("5M"), Some(5e6));
    }

    #[test]
    fn other_text_is_not_a_quantity() {
        assert_eq!(parse(""), None);
        assert_eq!(parse("12 Mi"), None);
        assert_eq!(parse("Mi"), None);
        assert_eq!(parse("1x"), None);
    }
}
