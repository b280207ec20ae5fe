//! Pictures of velocity models: single models and grids as PNG with a labelled colorbar,
//! and animated GIFs of model sequences (latent walks, sampling trajectories).

pub mod charts;
mod colormap;
mod display;
mod gif;
mod picture;
mod text;

pub use colormap::Colormap;
pub use display::display_models;
pub use gif::save_gif;
pub use picture::{RenderOptions, render_grid, render_model, save_png};
pub use text::{draw_text, fill, text_width};
