//! Time-ordered 64-bit ids, carried as decimal strings on the wire.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A snowflake-style id: milliseconds since the Cromulent epoch, node id and sequence.
///
/// Serialized as a string because JavaScript numbers lose precision above 2^53; parsed
/// from a string or a number so hand-written JSON still works.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", schema(value_type = String, example = "118925392218112"))]
#[cfg_attr(feature = "ts", ts(type = "string"))]
pub struct Id(pub i64);

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for Id {
    type Err = std::num::ParseIntError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<i64>().map(Id)
    }
}

impl From<i64> for Id {
    fn from(v: i64) -> Self {
        Id(v)
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Id;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an id as a decimal string")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Id, E> {
                v.parse().map_err(|_| E::invalid_value(serde::de::Unexpected::Str(v), &self))
            }

            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Id, E> {
                Ok(Id(v))
            }

            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Id, E> {
                crate::number::whole(v)
                    .map(Id)
                    .ok_or_else(|| E::invalid_value(serde::de::Unexpected::Float(v), &self))
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Id, E> {
                i64::try_from(v)
                    .map(Id)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_travel_as_strings_so_javascript_keeps_every_digit() {
        let id = Id(9_007_199_254_740_993);
        assert_eq!(serde_json::to_string(&id).expect("serializes"), "\"9007199254740993\"");
        let back: Id = serde_json::from_str("\"9007199254740993\"").expect("parses");
        assert_eq!(back, id, "a round trip must not lose precision");
    }

    #[test]
    fn numeric_ids_are_accepted_for_hand_written_json() {
        let id: Id = serde_json::from_str("42").expect("numbers are accepted");
        assert_eq!(id, Id(42));
        assert!(serde_json::from_str::<Id>("\"4x2\"").is_err(), "garbage must be refused");
        assert_eq!(serde_json::from_str::<Id>("42.0").expect("42.0 is the number 42"), Id(42));
        assert!(serde_json::from_str::<Id>("4.2").is_err(), "a fraction is no id");
    }
}
