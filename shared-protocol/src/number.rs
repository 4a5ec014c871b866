//! Whole numbers in requests. JSON has one number type: `5` and `5.0` are the same
//! number, and generators and some languages write the second. Integer fields accept
//! both, and refuse a fraction or a value out of range.

use serde::{Deserialize, Deserializer};

/// `v` as an `i64` when it is a whole number in range.
pub(crate) fn whole(v: f64) -> Option<i64> {
    // i64::MAX is not exactly representable as f64; 2^63 is the first value beyond it.
    let in_range = v >= -(2f64.powi(63)) && v < 2f64.powi(63);
    (v.is_finite() && v.fract() == 0.0 && in_range).then_some(v as i64)
}

/// For `#[serde(deserialize_with)]` on `i64` request fields.
pub(crate) fn deserialize_whole<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Number {
        Integer(i64),
        Float(f64),
    }
    match Number::deserialize(d)? {
        Number::Integer(v) => Ok(v),
        Number::Float(v) => whole(v).ok_or_else(|| {
            serde::de::Error::invalid_value(serde::de::Unexpected::Float(v), &"a whole number")
        }),
    }
}

/// For `#[serde(default, deserialize_with)]` on `Option<i64>` request fields: `null`
/// is `None`, a number as in [`deserialize_whole`].
pub(crate) fn deserialize_optional_whole<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    struct Whole(#[serde(deserialize_with = "deserialize_whole")] i64);
    Ok(Option::<Whole>::deserialize(d)?.map(|Whole(v)| v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Field {
        #[serde(deserialize_with = "deserialize_whole")]
        n: i64,
    }

    #[test]
    fn whole_numbers_are_read_however_they_are_written() {
        for (json, n) in [(r#"{"n":774}"#, 774), (r#"{"n":774.0}"#, 774), (r#"{"n":-3e2}"#, -300)] {
            assert_eq!(serde_json::from_str::<Field>(json).expect(json).n, n);
        }
        for json in [r#"{"n":1.5}"#, r#"{"n":1e19}"#, r#"{"n":"7"}"#] {
            assert!(serde_json::from_str::<Field>(json).is_err(), "{json} must be refused");
        }
    }

    #[derive(Deserialize)]
    struct Optional {
        #[serde(default, deserialize_with = "deserialize_optional_whole")]
        n: Option<i64>,
    }

    #[test]
    fn optional_whole_numbers_may_be_absent_or_null() {
        for (json, n) in
            [(r#"{}"#, None), (r#"{"n":null}"#, None), (r#"{"n":60.0}"#, Some(60)), (r#"{"n":-5}"#, Some(-5))]
        {
            assert_eq!(serde_json::from_str::<Optional>(json).expect(json).n, n, "{json}");
        }
        for json in [r#"{"n":1.5}"#, r#"{"n":"7"}"#] {
            assert!(serde_json::from_str::<Optional>(json).is_err(), "{json} must be refused");
        }
    }
}
