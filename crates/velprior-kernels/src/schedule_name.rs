//! A [`BetaSchedule`] as configs write it: its name (`"linear"`, `"cosine"`, `"sigmoid"`, the
//! standard parameters) or a table with every parameter (`{ kind = "cosine", s = 0.008,
//! max_beta = 0.999 }`). Use as `#[serde(with = "velprior_kernels::schedule_name")]`; a
//! standard schedule is written back as its name, so configs and checkpoint metadata keep it.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::BetaSchedule;

/// The named schedules, in documentation order.
const NAMES: [&str; 3] = ["linear", "cosine", "sigmoid"];

/// The schedule called `name` with its standard parameters.
pub fn named(name: &str) -> Option<BetaSchedule> {
    match name {
        "linear" => Some(BetaSchedule::linear()),
        "cosine" => Some(BetaSchedule::cosine()),
        "sigmoid" => Some(BetaSchedule::sigmoid()),
        _ => None,
    }
}

/// The name of `schedule` when it has the standard parameters of one.
pub fn name_of(schedule: &BetaSchedule) -> Option<&'static str> {
    NAMES
        .into_iter()
        .find(|n| named(n).as_ref() == Some(schedule))
}

/// Writes a standard schedule as its name, any other as its table.
pub fn serialize<S: Serializer>(schedule: &BetaSchedule, s: S) -> Result<S::Ok, S::Error> {
    match name_of(schedule) {
        Some(name) => s.serialize_str(name),
        None => schedule.serialize(s),
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NameOrTable {
    Name(String),
    Table(BetaSchedule),
}

/// Reads a name or a table.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BetaSchedule, D::Error> {
    match NameOrTable::deserialize(d).map_err(|_| {
        D::Error::custom(format!(
            "a schedule is one of {} or a table with kind and every parameter, e.g. \
             {{ kind = \"cosine\", s = 0.008, max_beta = 0.999 }}",
            NAMES.join(", ")
        ))
    })? {
        NameOrTable::Name(name) => named(&name).ok_or_else(|| {
            D::Error::custom(format!(
                "unknown schedule '{name}'; use one of {} (or a table with every parameter)",
                NAMES.join(", ")
            ))
        }),
        NameOrTable::Table(t) => Ok(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Cfg {
        #[serde(with = "super")]
        schedule: BetaSchedule,
    }

    /// Catches a name mapped to the wrong schedule, a standard schedule written as a table
    /// (configs and checkpoint metadata would change), and a custom one losing its parameters.
    #[test]
    fn names_and_tables_round_trip() {
        for (name, want) in [
            ("linear", BetaSchedule::linear()),
            ("cosine", BetaSchedule::cosine()),
            ("sigmoid", BetaSchedule::sigmoid()),
        ] {
            let cfg: Cfg = toml::from_str(&format!("schedule = \"{name}\"")).unwrap();
            assert_eq!(cfg.schedule, want);
            assert_eq!(
                toml::to_string(&cfg).unwrap().trim(),
                format!("schedule = \"{name}\"")
            );
        }
        let custom = Cfg {
            schedule: BetaSchedule::Cosine {
                s: 0.01,
                max_beta: 0.99,
            },
        };
        let text = toml::to_string(&custom).unwrap();
        assert_eq!(toml::from_str::<Cfg>(&text).unwrap(), custom);
        let err = toml::from_str::<Cfg>("schedule = \"cosin\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown schedule 'cosin'"), "{err}");
    }
}
