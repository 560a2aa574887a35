//! Special functions the confidence sequences need: `ln Γ` and `ln B`.

/// `ln Γ(x)` for `x > 0`, by the Lanczos approximation (g = 7, nine coefficients; relative error below 1e-14
/// for the arguments the canary uses, x ≥ 0.01). Not finite for `x ≤ 0`.
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const COEFFICIENTS: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x <= 0.0 || !x.is_finite() {
        return f64::NAN;
    }
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = COEFFICIENTS[0];
    for (i, c) in COEFFICIENTS.iter().enumerate().skip(1) {
        sum += c / (x + i as f64);
    }
    let t = x + G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// `ln B(a, b) = ln Γ(a) + ln Γ(b) − ln Γ(a + b)` for `a, b > 0`.
pub fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

/// `x · ln y`, 0 when `x` is 0 (whatever `y`): the terms of a log-likelihood with no events of a kind.
pub fn x_ln_y(x: f64, y: f64) -> f64 {
    if x == 0.0 {
        0.0
    } else {
        x * y.ln()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance * b.abs().max(1.0)
    }

    /// Reference values: Python's `math.lgamma`.
    #[test]
    fn ln_gamma_matches_reference_values() {
        for (x, expected) in [
            (0.01, 4.599_479_878_042_022),
            (0.5, 0.572_364_942_924_700_4),
            (1.0, 0.0),
            (2.0, 0.0),
            (3.5, 1.200_973_602_347_073_8),
            (10.0, 12.801_827_480_081_467),
            (100.5, 361.435_540_467_777_6),
            (12_345.678, 103_959.919_905_546_06),
        ] {
            assert!(close(ln_gamma(x), expected, 1e-13), "ln Γ({x}) = {}", ln_gamma(x));
        }
        assert!(ln_gamma(0.0).is_nan() && ln_gamma(-1.0).is_nan());
    }

    #[test]
    fn ln_beta_is_symmetric_and_matches_the_closed_form() {
        assert!(close(ln_beta(0.5, 0.5), std::f64::consts::PI.ln(), 1e-13));
        assert!(close(ln_beta(1.0, 5.0), (1.0f64 / 5.0).ln(), 1e-13));
        assert!(close(ln_beta(3.0, 40.0), ln_beta(40.0, 3.0), 1e-15));
    }

    #[test]
    fn x_ln_y_is_zero_without_events() {
        assert_eq!(x_ln_y(0.0, 0.0), 0.0);
        assert!(close(x_ln_y(2.0, std::f64::consts::E), 2.0, 1e-15));
    }
}
