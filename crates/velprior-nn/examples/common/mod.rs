//! Shared helpers of the benchmark examples: CPU-contention accounting like
//! `bench/reference/benchutil.py` (other processes' busy cores during each repetition).

#![allow(dead_code)]

use std::time::Instant;

fn clk_tck() -> f64 {
    100.0 // Linux USER_HZ
}

/// System-wide busy CPU seconds (from /proc/stat), as benchutil._sys_busy.
pub fn sys_busy() -> f64 {
    let s = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let line = s.lines().next().unwrap_or("");
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    if v.len() < 8 {
        return 0.0;
    }
    let idle = v[3] + v[4];
    let total: f64 = v[..8].iter().sum();
    (total - idle) / clk_tck()
}

/// CPU seconds (user + sys) of this process, all threads.
pub fn own_cpu() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // fields after the ")" of the command name: state is field 3; utime 14, stime 15.
    let rest = s.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let get = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    (get(11) + get(12)) / clk_tck()
}

/// The CPU's model name (/proc/cpuinfo), or "unknown CPU".
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// One timed repetition: wall seconds and the cores other processes used meanwhile.
#[derive(Debug, Clone, Copy)]
pub struct Rep {
    pub wall: f64,
    /// CPU seconds (user + sys, all threads) of this process.
    pub own_cpu: f64,
    pub other_cores: f64,
}

pub fn timed<T>(f: impl FnOnce() -> T) -> (T, Rep) {
    let (b0, c0) = (sys_busy(), own_cpu());
    let t0 = Instant::now();
    let out = f();
    let wall = t0.elapsed().as_secs_f64();
    let own = own_cpu() - c0;
    let other = ((sys_busy() - b0) - own).max(0.0);
    (
        out,
        Rep {
            wall,
            own_cpu: own,
            other_cores: other / wall.max(1e-9),
        },
    )
}

pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    if s.is_empty() {
        return f64::NAN;
    }
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        0.5 * (s[n / 2 - 1] + s[n / 2])
    }
}

/// Simple `--flag value` parser.
pub fn arg<T: std::str::FromStr>(name: &str, default: T) -> T {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}
