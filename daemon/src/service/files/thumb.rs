//! Thumbnails: an image of the workspace (PNG, JPEG, GIF, WebP) scaled to fit `WxH`, as
//! PNG. The input is capped before it is read and its pixels before it is decoded, so no
//! file can make the daemon allocate without bound.

use super::tree::{Asked, Tree, io_error};
use agentmux_shared::types::FileContent;
use agentmux_shared::{Error, ErrorKind, Result};
use image::{ImageFormat, ImageReader, Limits};
use std::io::{Cursor, Read};

/// Largest file thumbnailed, and most pixels decoded.
const MAX_INPUT: u64 = 32 << 20;
const MAX_PIXELS: u64 = 40_000_000;
/// Largest side asked for.
pub(super) const MAX_SIDE: u32 = 1024;

/// `WxH`, each side 1 to 1024.
pub(super) fn size(spec: &str) -> Result<(u32, u32)> {
    let bad = || {
        Error::invalid(format!(
            "thumb {spec:?}: give WxH, each between 1 and {MAX_SIDE} (e.g. 256x256)"
        ))
    };
    let (w, h) = spec.split_once('x').ok_or_else(bad)?;
    let side = |s: &str| {
        // Digits only: `+5` or ` 5` are not sizes.
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse::<u32>().ok().filter(|n| (1..=MAX_SIDE).contains(n))
    };
    Ok((side(w).ok_or_else(bad)?, side(h).ok_or_else(bad)?))
}

fn unreadable(path: &str, e: impl std::fmt::Display) -> Error {
    Error::precondition(format!(
        "{path} is not an image agentmux can read (PNG, JPEG, GIF, WebP): {e}"
    ))
}

/// `bytes` decoded and scaled to fit `w`×`h` (never up), encoded as PNG.
pub(super) fn render(path: &str, bytes: &[u8], w: u32, h: u32) -> Result<Vec<u8>> {
    let reader = || {
        ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| unreadable(path, e))
    };
    let probe = reader()?;
    if probe.format().is_none() {
        return Err(unreadable(path, "unknown format"));
    }
    let (iw, ih) = probe.into_dimensions().map_err(|e| unreadable(path, e))?;
    if u64::from(iw) * u64::from(ih) > MAX_PIXELS {
        return Err(Error::new(
            ErrorKind::PayloadTooLarge,
            format!("{path} is {iw}x{ih}: over the {MAX_PIXELS} pixels agentmux decodes"),
        ));
    }
    let mut r = reader()?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(iw);
    limits.max_image_height = Some(ih);
    // Room for the decoded pixels (at most 16 bytes each) and the decoder's own buffers.
    limits.max_alloc = Some(MAX_PIXELS * 16 + (64 << 20));
    r.limits(limits);
    let img = r.decode().map_err(|e| unreadable(path, e))?;
    let img = if img.width() <= w && img.height() <= h {
        img
    } else {
        img.thumbnail(w, h)
    };
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
        .or_else(|_| {
            // A pixel layout PNG cannot hold (floats): as 8-bit RGBA.
            out.clear();
            image::DynamicImage::ImageRgba8(img.to_rgba8())
                .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
        })
        .map_err(|e| Error::internal(format!("cannot encode a thumbnail of {path}: {e}")))?;
    Ok(out)
}

impl Tree {
    /// A PNG of the image `asked`, scaled to fit `w`×`h`.
    pub(super) fn thumb(&self, asked: &Asked, w: u32, h: u32) -> Result<FileContent> {
        let path = asked.display();
        let (f, m) = self.regular(asked)?;
        if m.len() > MAX_INPUT {
            return Err(Error::new(
                ErrorKind::PayloadTooLarge,
                format!(
                    "{path} is {} bytes: agentmux makes thumbnails of images up to {MAX_INPUT}",
                    m.len()
                ),
            ));
        }
        let mut bytes = Vec::new();
        f.take(MAX_INPUT)
            .read_to_end(&mut bytes)
            .map_err(|e| io_error(&path, &e, false))?;
        let png = render(&path, &bytes, w, h)?;
        Ok(FileContent {
            path,
            size: png.len() as u64,
            content: png,
            offset: 0,
            binary: true,
            truncated: false,
            mime: "image/png".into(),
        })
    }
}
