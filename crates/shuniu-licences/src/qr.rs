//! QR codes of licences: rendered (PNG for the holder's page and files, SVG for the console)
//! at error-correction level Q, and read back from an image (a photo or a screenshot of one)
//! for `shuniu licence verify FILE.png`.

use crate::{LicenceError, Result};

fn code(text: &str) -> Result<qrcode::QrCode> {
    // The encoder picks alphanumeric mode for Base45 text on its own.
    qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::Q)
        .map_err(|e| LicenceError::Internal(format!("QR: {e}")))
}

/// The QR code as a PNG image, 4 pixels a module, with its quiet zone.
pub fn png(text: &str) -> Result<Vec<u8>> {
    let img = code(text)?
        .render::<image::Luma<u8>>()
        .module_dimensions(4, 4)
        .quiet_zone(true)
        .build();
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| LicenceError::Internal(format!("PNG: {e}")))?;
    Ok(out.into_inner())
}

/// The QR code as an SVG document.
pub fn svg(text: &str) -> Result<String> {
    Ok(code(text)?
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build())
}

/// The text of the first QR code found in an image (PNG).
pub fn read(image_bytes: &[u8]) -> Result<String> {
    let unreadable = |why: String| {
        LicenceError::invalid(
            "LICENCE_QR_UNREADABLE",
            format!("图片中没有可识别的二维码：{why}"),
            format!("no readable QR code in the image: {why}"),
        )
    };
    let img = image::load_from_memory(image_bytes)
        .map_err(|e| unreadable(e.to_string()))?
        .to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(img);
    let grids = prepared.detect_grids();
    let grid = grids
        .first()
        .ok_or_else(|| unreadable("none found".into()))?;
    let (_, text) = grid.decode().map_err(|e| unreadable(e.to_string()))?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{seal, tests::claims};
    use crate::seal::{DEFAULT_SIGNER_ID, SealKey};

    #[test]
    fn a_rendered_licence_reads_back() {
        let (key, _) = SealKey::generate(DEFAULT_SIGNER_ID).unwrap();
        let text = seal(&claims(), &key, chrono::Utc::now()).unwrap();
        let image = png(&text).unwrap();
        assert_eq!(&image[1..4], b"PNG");
        assert_eq!(read(&image).unwrap(), text);
        assert!(svg(&text).unwrap().starts_with("<?xml"));
        assert_eq!(
            read(b"not an image").unwrap_err().code(),
            "LICENCE_QR_UNREADABLE"
        );
    }
}
