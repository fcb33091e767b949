//! Human-readable durations in the config (`"72h"`, `"30m"`, `"10s"`, `"7d"`, combined `"1h30m"`).

use serde::{Deserialize, Deserializer};
use std::time::Duration;

/// A duration written as text in the config, e.g. `"72h"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    /// Parses `"1d2h3m4s"`-style text; each unit at most once, in any order.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("empty duration; write e.g. \"72h\", \"30m\" or \"10s\"".into());
        }
        let mut total: u64 = 0;
        let mut number = String::new();
        for c in text.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let unit: u64 = match c {
                'd' => 86_400,
                'h' => 3_600,
                'm' => 60,
                's' => 1,
                _ => {
                    return Err(format!(
                        "invalid duration {text:?}: unknown unit {c:?} (use d, h, m or s)"
                    ))
                }
            };
            let n: u64 = number
                .parse()
                .map_err(|_| format!("invalid duration {text:?}: a number must precede {c:?}"))?;
            total = n
                .checked_mul(unit)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(|| format!("duration {text:?} is too large"))?;
            number.clear();
        }
        if !number.is_empty() {
            return Err(format!(
                "invalid duration {text:?}: the number {number} has no unit (use d, h, m or s)"
            ));
        }
        Ok(HumanDuration(Duration::from_secs(total)))
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        HumanDuration::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl std::fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.0.as_secs();
        if s % 86_400 == 0 && s > 0 {
            write!(f, "{}d", s / 86_400)
        } else if s % 3_600 == 0 && s > 0 {
            write!(f, "{}h", s / 3_600)
        } else if s % 60 == 0 && s > 0 {
            write!(f, "{}m", s / 60)
        } else {
            write!(f, "{s}s")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_combinations() {
        assert_eq!(HumanDuration::parse("72h").unwrap().0.as_secs(), 72 * 3600);
        assert_eq!(HumanDuration::parse("1h30m").unwrap().0.as_secs(), 5400);
        assert_eq!(HumanDuration::parse("7d").unwrap().0.as_secs(), 7 * 86400);
        assert_eq!(HumanDuration::parse("0s").unwrap().0.as_secs(), 0);
    }

    #[test]
    fn rejects_garbage() {
        assert!(HumanDuration::parse("").is_err());
        assert!(HumanDuration::parse("12").is_err());
        assert!(HumanDuration::parse("3w").is_err());
        assert!(HumanDuration::parse("h").is_err());
    }
}
