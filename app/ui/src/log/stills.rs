//! Bookmark stills: a decoded picture (YUV) to RGB and PNG, and the "stills" thread that
//! decodes an incident's PNG stills for the detail view.

use super::*;

/// Converts a decoded picture to PNG (BT.601/709, limited/full range) on the store thread.
pub fn snapshot_png(f: &DecodedFrame) -> Vec<u8> {
    let img = rgb_image(f);
    let mut out = std::io::Cursor::new(Vec::new());
    let _ = img.write_to(&mut out, image::ImageFormat::Png);
    out.into_inner()
}

/// A decoded picture as RGB (BT.601/709, limited/full range), on the CPU.
pub fn rgb_image(f: &DecodedFrame) -> image::RgbImage {
    let (kr, kb) = match f.matrix {
        mt_capture::ColorMatrix::Bt601 => (0.299f32, 0.114f32),
        mt_capture::ColorMatrix::Bt709 => (0.2126, 0.0722),
    };
    let kg = 1.0 - kr - kb;
    let (ys, yo, cs) = if f.full_range {
        (1.0, 0.0, 1.0)
    } else {
        (255.0 / 219.0, 16.0, 255.0 / 224.0)
    };
    let cw = f.width.div_ceil(2) as usize;
    let mut img = image::RgbImage::new(f.width, f.height);
    for (x, y, px) in img.enumerate_pixels_mut() {
        let yy = (f.y[(y * f.width + x) as usize] as f32 - yo) * ys;
        let ci = (y as usize / 2) * cw + x as usize / 2;
        let u = (f.u[ci] as f32 - 128.0) * cs;
        let v = (f.v[ci] as f32 - 128.0) * cs;
        let r = yy + 2.0 * (1.0 - kr) * v;
        let b = yy + 2.0 * (1.0 - kb) * u;
        let g = (yy - kr * r - kb * b) / kg;
        *px = image::Rgb([
            r.clamp(0.0, 255.0) as u8,
            g.clamp(0.0, 255.0) as u8,
            b.clamp(0.0, 255.0) as u8,
        ]);
    }
    img
}

/// Decodes bookmark stills (PNG) on a thread named "stills"; the receiver gets them all at
/// once. None when the thread cannot be started (the stills are then not shown; logged).
pub(super) fn decode_stills(
    pngs: Vec<(i64, Vec<u8>)>,
) -> Option<std::sync::mpsc::Receiver<Vec<(i64, egui::ColorImage)>>> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let started = std::thread::Builder::new()
        .name("stills".into())
        .spawn(move || {
            mt_core::priority::lower_this_thread(mt_core::priority::SERVICE);
            let mut out = Vec::with_capacity(pngs.len());
            for (id, png) in pngs {
                match image::load_from_memory(&png) {
                    Ok(img) => {
                        let rgba = img.to_rgba8();
                        let size = [rgba.width() as usize, rgba.height() as usize];
                        out.push((
                            id,
                            egui::ColorImage::from_rgba_unmultiplied(size, rgba.as_raw()),
                        ));
                    }
                    Err(e) => {
                        tracing::warn!("bookmark {id}: snapshot is not a readable PNG: {e}")
                    }
                }
            }
            let _ = tx.send(out);
        });
    match started {
        Ok(_) => Some(rx),
        Err(e) => {
            tracing::warn!("stills thread not started: {e}");
            None
        }
    }
}
