//! Reads a QR code off a page the way a phone camera would: the SVG the page shows is drawn into
//! a greyscale picture, and `rqrr` finds and decodes the code in it. Only our own SVG shape is
//! understood (`src/bankid/qr.rs`: a white square, then one path of `M x y h n v1 h-n z` runs).

use anyhow::{Context, Result, anyhow, bail};

/// Pixels per QR module in the picture.
const SCALE: usize = 4;

/// The dark modules of the SVG, as a square of `size` × `size` (quiet zone included).
fn modules(svg: &str) -> Result<(usize, Vec<bool>)> {
    let view_box = svg
        .split("viewBox=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .context("the SVG has a viewBox")?;
    let size: usize = view_box
        .split_whitespace()
        .nth(2)
        .context("viewBox width")?
        .parse()
        .context("viewBox width is a number")?;
    let path = svg
        .split(" d=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .context("the SVG has a path")?;
    let mut dark = vec![false; size * size];
    for run in path.split('z').filter(|r| !r.trim().is_empty()) {
        // "M{x} {y}h{n}v1h-{n}"
        let run = run
            .trim()
            .strip_prefix('M')
            .context("a run starts with M")?;
        let (x, rest) = run.split_once(' ').context("M x y")?;
        let (y, rest) = rest.split_once('h').context("h after M")?;
        let (n, _) = rest.split_once('v').context("v after h")?;
        let (x, y, n): (usize, usize, usize) = (x.parse()?, y.parse()?, n.parse()?);
        if y >= size || x + n > size {
            bail!("a run outside the {size} × {size} code: {run}");
        }
        dark[y * size + x..y * size + x + n].fill(true);
    }
    Ok((size, dark))
}

/// The text of the QR code in `svg`.
pub fn decode_svg(svg: &str) -> Result<String> {
    let (size, dark) = modules(svg)?;
    let pixels = size * SCALE;
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(pixels, pixels, |x, y| {
        if dark[(y / SCALE) * size + x / SCALE] {
            0
        } else {
            255
        }
    });
    let grids = image.detect_grids();
    let grid = grids.first().ok_or_else(|| anyhow!("no QR code found"))?;
    let (_meta, content) = grid
        .decode()
        .map_err(|e| anyhow!("the QR code does not decode: {e}"))?;
    Ok(content)
}
