//! The licence document (电子证照文件): one A4 page in PDF with the licence's face — title,
//! holder, fields, issuing authority and date —, the e-seal's picture, the QR code (drawn as
//! vectors, so it scans at any zoom), and the licence as a W3C Verifiable Credential attached
//! as an embedded file (`licence-credential.json`), whose Data Integrity proof is the issuing
//! seal's SM2 signature over the licence's canonical (JCS) form.
//!
//! Chinese text uses Adobe's standard CJK font `STSong-Light` with the `UniGB-UCS2-H` encoding,
//! which every PDF reader supplies (as government PDF tools commonly do), so the file carries
//! no font program; a `ToUnicode` map makes its text searchable and extractable.

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo};
use pdf_writer::{Content, Date, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use crate::{LicenceError, Result};

/// What the page shows.
#[derive(Debug, Clone)]
pub struct Face {
    pub title: String,
    pub holder_name: String,
    /// "统一社会信用代码" or "公民身份号码".
    pub holder_label: String,
    pub holder_shown: String,
    pub fields: Vec<(String, String)>,
    pub authority: String,
    pub issued_on: String,
    pub validity: String,
    pub licence_id: String,
    pub qr_text: String,
    pub seal_name: String,
    /// Where anyone can verify the QR code.
    pub verify_url: String,
    /// The secured Verifiable Credential (JSON).
    pub credential: Vec<u8>,
}

const W: f32 = 595.0;
const H: f32 = 842.0;
const RED: (f32, f32, f32) = (0.82, 0.0, 0.11);
const INK: (f32, f32, f32) = (0.1, 0.1, 0.12);
const FRAME: (f32, f32, f32) = (0.55, 0.36, 0.12);
const FONT: Name<'static> = Name(b"F1");
/// The name the attachment is known by in the PDF.
pub const CREDENTIAL_FILE: &str = "licence-credential.json";

/// Text in the page's encoding (UCS-2, big-endian); characters outside the BMP become '?'.
fn ucs2(text: &str) -> Vec<u8> {
    text.chars()
        .flat_map(|c| {
            let u = u32::from(c);
            let u = if u > 0xFFFF { u32::from('?') } else { u };
            [(u >> 8) as u8, (u & 0xFF) as u8]
        })
        .collect()
}

/// Approximate width in em: CJK full width, ASCII half width (as STSong-Light sets them).
fn em_width(text: &str) -> f32 {
    text.chars()
        .map(|c| if c.is_ascii() { 0.5 } else { 1.0 })
        .sum()
}

/// Breaks `text` into lines no wider than `max_em`.
fn wrap(text: &str, max_em: f32) -> Vec<String> {
    let mut lines = vec![String::new()];
    let mut width = 0.0;
    for c in text.chars() {
        let w = if c.is_ascii() { 0.5 } else { 1.0 };
        if width + w > max_em && !lines.last().is_some_and(String::is_empty) {
            lines.push(String::new());
            width = 0.0;
        }
        if let Some(l) = lines.last_mut() {
            l.push(c);
        }
        width += w;
    }
    lines
}

struct Page {
    content: Content,
    used: std::collections::BTreeSet<char>,
}

impl Page {
    fn text(&mut self, x: f32, y: f32, size: f32, color: (f32, f32, f32), text: &str) {
        self.used.extend(text.chars());
        self.content
            .set_fill_rgb(color.0, color.1, color.2)
            .begin_text()
            .set_font(FONT, size)
            .next_line(x, y);
        self.content.show(Str(&ucs2(text)));
        self.content.end_text();
    }

    fn centered(&mut self, cx: f32, y: f32, size: f32, color: (f32, f32, f32), text: &str) {
        self.text(cx - em_width(text) * size / 2.0, y, size, color, text);
    }

    /// A circle as four Bézier arcs.
    fn circle(&mut self, cx: f32, cy: f32, r: f32) {
        let k = 0.552_284_8 * r;
        let c = &mut self.content;
        c.move_to(cx + r, cy);
        c.cubic_to(cx + r, cy + k, cx + k, cy + r, cx, cy + r);
        c.cubic_to(cx - k, cy + r, cx - r, cy + k, cx - r, cy);
        c.cubic_to(cx - r, cy - k, cx - k, cy - r, cx, cy - r);
        c.cubic_to(cx + k, cy - r, cx + r, cy - k, cx + r, cy);
        c.close_path();
    }
}

/// The seal: a red ring, the department's name along its upper arc, a star, and the seal's
/// purpose below — as the e-seal's picture shows it.
fn seal(page: &mut Page, cx: f32, cy: f32, r: f32, department: &str) {
    page.content
        .save_state()
        .set_stroke_rgb(RED.0, RED.1, RED.2)
        .set_fill_rgb(RED.0, RED.1, RED.2)
        .set_line_width(3.0);
    page.circle(cx, cy, r);
    page.content.stroke();
    // Five-pointed star.
    let (outer, inner) = (r * 0.26, r * 0.105);
    for i in 0..10 {
        let radius = if i % 2 == 0 { outer } else { inner };
        let angle = std::f32::consts::FRAC_PI_2 + i as f32 * std::f32::consts::PI / 5.0;
        let (x, y) = (cx + radius * angle.cos(), cy + radius * angle.sin());
        if i == 0 {
            page.content.move_to(x, y);
        } else {
            page.content.line_to(x, y);
        }
    }
    page.content.close_path().fill_nonzero();
    // The name along the arc: each character rotated to stand on the circle.
    let chars: Vec<char> = department.chars().collect();
    let size = (r * 0.24).min(14.0);
    let span = std::f32::consts::PI * 1.15;
    let n = chars.len().max(1) as f32;
    for (i, ch) in chars.iter().enumerate() {
        let t = if chars.len() == 1 {
            0.5
        } else {
            i as f32 / (n - 1.0)
        };
        let angle = std::f32::consts::FRAC_PI_2 + span / 2.0 - t * span;
        let rr = r - size * 1.15;
        let (x, y) = (cx + rr * angle.cos(), cy + rr * angle.sin());
        let rot = angle - std::f32::consts::FRAC_PI_2;
        let (s, c) = rot.sin_cos();
        page.used.insert(*ch);
        let mut buf = [0u8; 4];
        let text = ch.encode_utf8(&mut buf);
        page.content
            .begin_text()
            .set_font(FONT, size)
            .set_text_matrix([c, s, -s, c, x - (c * size / 2.0), y - (s * size / 2.0)]);
        page.content.show(Str(&ucs2(text)));
        page.content.end_text();
    }
    page.content.restore_state();
    page.centered(
        cx,
        cy - r * 0.55,
        (r * 0.17).min(10.0),
        RED,
        "电子证照专用章",
    );
}

/// The QR code as filled squares, `size` points wide, lower-left corner at (x, y).
fn qr(page: &mut Page, x: f32, y: f32, size: f32, text: &str) -> Result<()> {
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::Q)
        .map_err(|e| LicenceError::Internal(format!("QR: {e}")))?;
    let n = code.width();
    let module = size / n as f32;
    let colors = code.to_colors();
    page.content.save_state().set_fill_rgb(0.0, 0.0, 0.0);
    for (i, color) in colors.iter().enumerate() {
        if *color == qrcode::Color::Dark {
            let (col, row) = (i % n, i / n);
            page.content.rect(
                x + col as f32 * module,
                y + size - (row + 1) as f32 * module,
                module + 0.05,
                module + 0.05,
            );
        }
    }
    page.content.fill_nonzero().restore_state();
    Ok(())
}

/// The licence document as PDF bytes.
pub fn pdf(face: &Face, department_name: &str) -> Result<Vec<u8>> {
    let mut page = Page {
        content: Content::new(),
        used: Default::default(),
    };
    // A double frame, as paper licences have.
    page.content
        .save_state()
        .set_stroke_rgb(FRAME.0, FRAME.1, FRAME.2)
        .set_line_width(2.5)
        .rect(28.0, 28.0, W - 56.0, H - 56.0)
        .stroke()
        .set_line_width(0.8)
        .rect(36.0, 36.0, W - 72.0, H - 72.0)
        .stroke()
        .restore_state();
    page.centered(W / 2.0, H - 120.0, 34.0, INK, &face.title);
    page.centered(
        W / 2.0,
        H - 150.0,
        10.0,
        FRAME,
        &format!("证照标识  {}", face.licence_id),
    );

    let left = 88.0;
    let value_x = 210.0;
    let mut y = H - 210.0;
    let mut row = |page: &mut Page, label: &str, value: &str| {
        page.text(left, y, 13.0, FRAME, label);
        for (i, line) in wrap(value, 22.0).iter().enumerate() {
            page.text(value_x, y - i as f32 * 19.0, 13.0, INK, line);
            if i > 0 {
                y -= 19.0;
            }
        }
        y -= 30.0;
    };
    row(&mut page, "名　　称", &face.holder_name);
    row(&mut page, &face.holder_label, &face.holder_shown);
    for (label, value) in &face.fields {
        row(&mut page, label, value);
    }
    row(&mut page, "有 效 期", &face.validity);

    // QR code (lower left) and seal over the authority and date (lower right).
    let qr_size = 150.0;
    qr(&mut page, left - 8.0, 118.0, qr_size, &face.qr_text)?;
    page.text(left - 8.0, 102.0, 8.0, FRAME, "扫码核验 / scan to verify");
    page.text(left - 8.0, 90.0, 7.0, FRAME, &face.verify_url);
    let right_cx = W - 170.0;
    page.centered(right_cx, 200.0, 14.0, INK, &face.authority);
    page.centered(right_cx, 176.0, 13.0, INK, &face.issued_on);
    seal(&mut page, right_cx, 196.0, 58.0, department_name);
    page.centered(
        W / 2.0,
        58.0,
        7.5,
        FRAME,
        &format!(
            "{} · 电子签名（SM2）见附件 {CREDENTIAL_FILE}",
            face.seal_name
        ),
    );

    let mut pdf = Pdf::new();
    let (catalog, tree, page_id, content_id) = (Ref::new(1), Ref::new(2), Ref::new(3), Ref::new(4));
    let (font, cid_font, descriptor, to_unicode) =
        (Ref::new(5), Ref::new(6), Ref::new(7), Ref::new(8));
    let (file_spec, embedded, info) = (Ref::new(9), Ref::new(10), Ref::new(11));
    let mut cat = pdf.catalog(catalog);
    cat.pages(tree);
    cat.names()
        .embedded_files()
        .names()
        .insert(Str(CREDENTIAL_FILE.as_bytes()), file_spec);
    cat.finish();
    pdf.pages(tree).kids([page_id]).count(1);
    let mut p = pdf.page(page_id);
    p.media_box(Rect::new(0.0, 0.0, W, H))
        .parent(tree)
        .contents(content_id);
    p.resources().fonts().pair(FONT, font);
    p.finish();
    pdf.stream(content_id, &page.content.finish());

    let gb1 = SystemInfo {
        registry: Str(b"Adobe"),
        ordering: Str(b"GB1"),
        supplement: 2,
    };
    pdf.type0_font(font)
        .base_font(Name(b"STSong-Light"))
        .encoding_predefined(Name(b"UniGB-UCS2-H"))
        .descendant_font(cid_font)
        .to_unicode(to_unicode);
    pdf.cid_font(cid_font)
        .subtype(CidFontType::Type0)
        .base_font(Name(b"STSong-Light"))
        .system_info(gb1)
        .font_descriptor(descriptor)
        .default_width(1000.0)
        .widths()
        .consecutive(1, std::iter::repeat_n(500.0, 95));
    pdf.font_descriptor(descriptor)
        .name(Name(b"STSong-Light"))
        .flags(FontFlags::SYMBOLIC | FontFlags::SERIF)
        .bbox(Rect::new(-25.0, -254.0, 1000.0, 880.0))
        .italic_angle(0.0)
        .ascent(880.0)
        .descent(-120.0)
        .cap_height(880.0)
        .stem_v(93.0);
    let mut cmap = pdf_writer::types::UnicodeCmap::<u16>::new(
        Name(b"Shuniu-UCS2"),
        SystemInfo {
            registry: Str(b"Adobe"),
            ordering: Str(b"UCS"),
            supplement: 0,
        },
    );
    for c in &page.used {
        let u = u32::from(*c);
        if u <= 0xFFFF {
            cmap.pair(u as u16, *c);
        }
    }
    pdf.cmap(to_unicode, &cmap.finish());

    pdf.file_spec(file_spec)
        .path(Str(CREDENTIAL_FILE.as_bytes()))
        .unic_file(TextStr(CREDENTIAL_FILE))
        .description(TextStr(
            "W3C Verifiable Credential 2.0, SM2 Data Integrity proof",
        ))
        .embedded_file(embedded);
    pdf.embedded_file(embedded, &face.credential)
        .subtype(Name(b"application#2Fjson"))
        .params()
        .size(face.credential.len() as i32);
    let mut doc = pdf.document_info(info);
    doc.title(TextStr(&format!("{} {}", face.title, face.holder_name)))
        .author(TextStr(&face.authority))
        .subject(TextStr(&face.licence_id))
        .producer(TextStr("Shuniu"));
    let today = chrono::Utc::now();
    use chrono::Datelike;
    doc.creation_date(
        Date::new(today.year() as u16)
            .month(today.month() as u8)
            .day(today.day() as u8),
    );
    doc.finish();
    Ok(pdf.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face() -> Face {
        Face {
            title: "营业执照".into(),
            holder_name: "青岛海川物流有限公司".into(),
            holder_label: "统一社会信用代码".into(),
            holder_shown: "91370200MA3C5XYZ1X".into(),
            fields: vec![("法定代表人".into(), "张伟".into())],
            authority: "青岛市市场监督管理局".into(),
            issued_on: "2026年12月07日".into(),
            validity: "长期".into(),
            licence_id: "1.2.156.3005.2.X.Y.1.001.F".into(),
            qr_text: "SNL1:ABC".into(),
            seal_name: "电子证照专用章".into(),
            verify_url: "http://127.0.0.1:8080/verify".into(),
            credential: br#"{"proof":{}}"#.to_vec(),
        }
    }

    #[test]
    fn the_document_is_a_pdf_with_its_text_and_the_credential_attached() {
        let bytes = pdf(&face(), "青岛市市场监督管理局").unwrap();
        assert!(bytes.starts_with(b"%PDF-"));
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("/STSong-Light") && text.contains("/UniGB-UCS2-H"));
        assert!(text.contains(CREDENTIAL_FILE));
        assert!(
            text.contains(r#"{"proof":{}}"#),
            "the credential is attached as it is"
        );
        // The holder's name in the page's UCS-2 encoding (written as a hex string), and
        // mapped back to Unicode for extraction.
        let name: String = ucs2("青岛海川物流有限公司")
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
        assert!(text.contains(&format!("<{name}>")), "{name}");
        assert!(text.contains("<9752> <9752>"), "ToUnicode maps 青");
    }

    #[test]
    fn long_values_wrap_and_widths_count_cjk_double() {
        assert_eq!(em_width("青岛ab"), 3.0);
        let lines = wrap(&"青".repeat(30), 22.0);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].chars().count(), 22);
    }
}
