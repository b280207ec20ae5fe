//! HTML pages: the run list, one run, and a comparison of runs (maud templates).

use std::collections::BTreeSet;

use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::charts::{Curve, line_chart};
use crate::runs::Run;

/// The stylesheet, embedded (no CDN).
const CSS: &str = include_str!("../assets/style.css");

/// The page frame: title, navigation, styles.
pub fn layout(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) " · velprior" }
                style { (PreEscaped(CSS)) }
            }
            body {
                nav { a href="/" { "velprior runs" } }
                main { (body) }
            }
        }
    }
}

fn date(t: std::time::SystemTime) -> String {
    httpdate::fmt_http_date(t)
}

fn number(x: f64) -> String {
    if x == 0.0 || (1e-3..1e5).contains(&x.abs()) {
        format!("{:.4}", x)
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    } else {
        format!("{x:.3e}")
    }
}

fn run_link(id: &str) -> String {
    format!("/run/{id}")
}

/// The list of runs with kind, date, headline numbers and a comparison form.
pub fn index(runs: &[Run]) -> Markup {
    layout(
        "runs",
        html! {
            h1 { "Runs" }
            @if runs.is_empty() {
                p.warn { "No run folders here yet. Run e.g. " code { "velprior quickstart" } " and reload." }
            } @else {
                form action="/compare" method="get" {
                    table {
                        tr { th { "compare" } th { "run" } th { "kind" } th { "modified" } th { "headline" } }
                        @for r in runs {
                            tr {
                                td { input type="checkbox" name="run" value=(r.id); }
                                td {
                                    a href=(run_link(&r.id)) { (r.id) }
                                    @if !r.warnings.is_empty() { " " span.badge title=(r.warnings.join("\n")) { "⚠ " (r.warnings.len()) } }
                                }
                                td { (r.kind) }
                                td { (date(r.modified)) }
                                td.small {
                                    @for (k, v) in &r.headline { span.kv { (k) " = " (number(*v)) } " " }
                                }
                            }
                        }
                    }
                    button type="submit" { "Compare selected runs" }
                }
            }
        },
    )
}

/// Interactive views a run's checkpoint offers.
#[derive(Debug, Clone, Copy, Default)]
pub struct PriorLinks {
    /// An autoencoder with a 2-D latent: the latent-space playground.
    pub playground: bool,
    /// A diffusion prior: the Boomerang view.
    pub boomerang: bool,
}

/// One run: warnings, numbers, metric curves, pictures, files and its config.
pub fn run(r: &Run, links: PriorLinks) -> Markup {
    layout(
        &r.id,
        html! {
            h1 { (r.id) " " span.kind { (r.kind) } }
            p.small { "modified " (date(r.modified)) }
            @for w in &r.warnings { p.warn { "⚠ " (w) } }
            @if links.playground {
                p { a.button href=(format!("/playground/{}", r.id)) { "Open the latent-space playground" } }
            }
            @if links.boomerang {
                p { a.button href=(format!("/boomerang/{}", r.id)) { "Re-sample around a model (Boomerang)" } }
            }
            @if !r.summary.is_empty() {
                h2 { "Summary" }
                table { @for (k, v) in &r.summary { tr { td { (k) } td.num { (number(*v)) } } } }
            }
            @if !r.metrics.series.is_empty() {
                h2 { "Metrics" }
                div.charts {
                    @for (name, pts) in &r.metrics.series {
                        @if let Some(svg) = line_chart(name, &r.metrics.x_label, &[Curve { name: "", points: pts }]) {
                            div.chart { (PreEscaped(svg)) }
                        }
                    }
                }
            }
            @if !r.images.is_empty() {
                h2 { "Pictures" }
                div.gallery {
                    @for f in &r.images {
                        figure {
                            a href=(format!("/files/{}", f.rel)) { img src=(format!("/files/{}", f.rel)) alt=(f.rel) loading="lazy"; }
                            figcaption { (f.rel.rsplit('/').next().unwrap_or(&f.rel)) }
                        }
                    }
                }
            }
            @if !r.files.is_empty() {
                h2 { "Files" }
                ul {
                    @for f in &r.files {
                        li { a href=(format!("/files/{}", f.rel)) { (f.rel.rsplit('/').next().unwrap_or(&f.rel)) } " " span.small { (f.bytes) " bytes" } }
                    }
                }
            }
            @if let Some((name, text)) = &r.config {
                h2 { (name) }
                pre { (text) }
            }
        },
    )
}

/// Several runs side by side: their numbers in one table and shared metrics overlaid.
pub fn compare(runs: &[Run]) -> Markup {
    let keys: BTreeSet<&str> = runs
        .iter()
        .flat_map(|r| {
            r.summary
                .iter()
                .chain(r.headline.iter())
                .map(|(k, _)| k.as_str())
        })
        .collect();
    let value = |r: &Run, k: &str| {
        r.summary
            .iter()
            .chain(r.metrics.last_values().iter())
            .find(|(n, _)| n == k)
            .map(|(_, v)| number(*v))
            .unwrap_or_else(|| "—".into())
    };
    let shared: BTreeSet<&String> = runs
        .iter()
        .flat_map(|r| r.metrics.series.keys())
        .filter(|k| {
            runs.iter()
                .filter(|r| r.metrics.series.contains_key(*k))
                .count()
                >= 2
        })
        .collect();
    layout(
        "compare",
        html! {
            h1 { "Comparison" }
            table {
                tr { th { "metric" } @for r in runs { th { a href=(run_link(&r.id)) { (r.id) } } } }
                tr { td { "kind" } @for r in runs { td { (r.kind) } } }
                @for k in &keys { tr { td { (k) } @for r in runs { td.num { (value(r, k)) } } } }
            }
            @if !shared.is_empty() {
                h2 { "Shared metrics" }
                div.charts {
                    @for name in &shared {
                        @let curves: Vec<Curve> = runs.iter().filter_map(|r| Some(Curve { name: &r.id, points: r.metrics.series.get(*name)? })).collect();
                        @if let Some(svg) = line_chart(name, &runs[0].metrics.x_label, &curves) {
                            div.chart { (PreEscaped(svg)) }
                        }
                    }
                }
            }
        },
    )
}

/// The playground script, embedded.
const PLAYGROUND_JS: &str = include_str!("../assets/playground.js");

/// The latent-space playground of run `id`: two sliders over ±`limit`, the decoded model, and
/// the latent and (v₁, v₂) scatter plots, redrawn on every move by `assets/playground.js`.
pub fn playground(id: &str, limit: f64, profile: bool, notes: &[String]) -> Markup {
    let step = limit / 200.0;
    layout(
        &format!("playground {id}"),
        html! {
            h1 { "Latent-space playground " span.kind { a href=(run_link(id)) { (id) } } }
            p.small {
                "Move the sliders through the autoencoder's 2-D latent space; each position is decoded on the server. "
                "Blue: the encoded training corpus; red: decoded random latents z ~ N(0, s²I); green: this point."
            }
            @for n in notes { p.warn { "⚠ " (n) } }
            div #playground data-run=(id) data-profile=(profile) data-updates="0" {
                div.playground {
                    div.sliders {
                        label { "z1 " input #z1 type="range" min=(-limit) max=(limit) step=(step) value="0"; }
                        label { "z2 " input #z2 type="range" min=(-limit) max=(limit) step=(step) value="0"; }
                        p #readout { "…" }
                        p #error.warn.small {}
                        @if profile {
                            div #model.chart {}
                        } @else {
                            img #model-img alt="decoded model";
                        }
                    }
                    div #latent.chart {}
                    div #velocity.chart {}
                }
            }
            script { (PreEscaped(PLAYGROUND_JS)) }
        },
    )
}

/// The Boomerang view of diffusion run `id`: choose one of `n` starting models (from
/// `source`) and the noise level t*; the server re-samples around the model.
pub fn boomerang(id: &str, n: usize, source: &str) -> Markup {
    let script = r#"
(function () {
  const root = document.getElementById('boomerang');
  const img = document.getElementById('variations');
  const status = document.getElementById('status');
  const t = document.getElementById('t'), m = document.getElementById('model'), s = document.getElementById('seed');
  function update() {
    document.getElementById('t-value').textContent = Number(t.value).toFixed(2);
    status.textContent = 'sampling…';
    img.src = '/api/boomerang.png?run=' + encodeURIComponent(root.dataset.run) +
      '&model=' + m.value + '&t=' + t.value + '&seed=' + s.value;
  }
  img.addEventListener('load', () => { status.textContent = ''; root.dataset.updates = String(Number(root.dataset.updates) + 1); });
  img.addEventListener('error', () => { status.textContent = 'the server refused these values'; });
  [t, m, s].forEach((e) => e.addEventListener('change', update));
  update();
})();
"#;
    layout(
        &format!("boomerang {id}"),
        html! {
            h1 { "Boomerang " span.kind { a href=(run_link(id)) { (id) } } }
            p.small {
                "Noise a model to level t*, then run the prior's reverse chain back (Luzi et al. 2024): small t* gives close variations, "
                "t* = 1 a fresh prior sample. Starting models: " (source) "."
            }
            div #boomerang data-run=(id) data-updates="0" {
                div.sliders {
                    label { "model " input #model type="number" min="0" max=(n - 1) value="0"; }
                    label { "t* " input #t type="range" min="0.02" max="1" step="0.02" value="0.3"; " " span #t-value {} }
                    label { "seed " input #seed type="number" min="0" value="0"; }
                    p #status.small {}
                }
                img #variations alt="model and Boomerang variations";
            }
            script { (PreEscaped(script)) }
        },
    )
}
