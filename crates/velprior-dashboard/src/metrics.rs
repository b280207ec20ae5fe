//! Metric logs (`metrics.jsonl`): one JSON object per line, read into named series.
//!
//! A run that is still going, or was killed mid-write, can end in a partial line; such lines are
//! skipped and reported, never fatal.

use std::collections::BTreeMap;

/// Keys that index a log line rather than measure something, in order of preference.
const STEP_KEYS: [&str; 6] = ["step", "iteration", "iter", "epoch", "generation", "g"];

/// The numeric columns of a metrics log, each as (x, y) points.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricSeries {
    /// Name of the x axis (`step`, `iteration`, … or `line`).
    pub x_label: String,
    /// Series by metric name (nested objects flattened as `a.b`), sorted by name.
    pub series: BTreeMap<String, Vec<(f64, f64)>>,
    /// Lines that could not be read, 1-based, with the reason.
    pub bad_lines: Vec<(usize, String)>,
}

impl MetricSeries {
    /// Parses the text of a JSON-lines log. Blank lines are ignored.
    pub fn parse(text: &str) -> MetricSeries {
        let mut out = MetricSeries::default();
        let rows: Vec<(usize, serde_json::Map<String, serde_json::Value>)> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .filter_map(
                |(i, l)| match serde_json::from_str::<serde_json::Value>(l) {
                    Ok(serde_json::Value::Object(map)) => Some((i + 1, map)),
                    Ok(_) => {
                        out.bad_lines.push((i + 1, "not a JSON object".into()));
                        None
                    }
                    Err(e) => {
                        out.bad_lines.push((i + 1, e.to_string()));
                        None
                    }
                },
            )
            .collect();
        let step_key = STEP_KEYS.iter().find(|k| {
            rows.iter()
                .any(|(_, m)| m.get(**k).is_some_and(|v| v.is_number()))
        });
        out.x_label = step_key.map_or("line", |k| k).to_string();
        for (n, (_, row)) in rows.iter().enumerate() {
            let x = step_key
                .and_then(|k| row.get(*k))
                .and_then(|v| v.as_f64())
                .unwrap_or(n as f64);
            let mut flat = Vec::new();
            flatten("", row, &mut flat);
            for (name, y) in flat {
                if Some(name.as_str()) != step_key.copied() && y.is_finite() {
                    out.series.entry(name).or_default().push((x, y));
                }
            }
        }
        out
    }

    /// The last value of every series, by name.
    pub fn last_values(&self) -> Vec<(String, f64)> {
        self.series
            .iter()
            .filter_map(|(k, v)| v.last().map(|p| (k.clone(), p.1)))
            .collect()
    }
}

/// Numeric leaves of a JSON object as (`a.b`, value); arrays and strings are skipped.
pub fn flatten(
    prefix: &str,
    map: &serde_json::Map<String, serde_json::Value>,
    out: &mut Vec<(String, f64)>,
) {
    for (k, v) in map {
        let name = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            serde_json::Value::Number(n) => {
                if let Some(x) = n.as_f64() {
                    out.push((name, x));
                }
            }
            serde_json::Value::Object(m) => flatten(&name, m, out),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_steps_nested_values_and_reports_partial_lines() {
        let text = "{\"step\": 1, \"loss\": 2.0, \"lr\": {\"now\": 0.1}}\n\n\
                    {\"step\": 2, \"loss\": 1.5, \"note\": \"x\"}\n{\"step\": 3, \"lo";
        let m = MetricSeries::parse(text);
        assert_eq!(m.x_label, "step");
        assert_eq!(m.series["loss"], vec![(1.0, 2.0), (2.0, 1.5)]);
        assert_eq!(m.series["lr.now"], vec![(1.0, 0.1)]);
        assert!(!m.series.contains_key("step") && !m.series.contains_key("note"));
        assert_eq!(m.bad_lines.len(), 1);
        assert_eq!(m.bad_lines[0].0, 4);
    }

    #[test]
    fn falls_back_to_line_numbers() {
        let m = MetricSeries::parse("{\"a\": 1}\n{\"a\": 3}\n[1]\n");
        assert_eq!(m.x_label, "line");
        assert_eq!(m.series["a"], vec![(0.0, 1.0), (1.0, 3.0)]);
        assert_eq!(m.bad_lines, vec![(3, "not a JSON object".to_string())]);
    }
}
