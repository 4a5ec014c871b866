//! Image attachments: the type sniffed from the bytes, the size read from the header and
//! checked before anything is decoded, metadata (EXIF with its GPS position, XMP, text
//! chunks, comments) taken out, and a thumbnail. Blocking work: run it off the async
//! threads.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

/// The image formats attachments understand; anything else is a plain file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Png,
    Jpeg,
    Gif,
    Webp,
}

impl Kind {
    /// The type the bytes say, never what the client claimed.
    pub fn sniff(head: &[u8]) -> Option<Kind> {
        if head.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Kind::Png)
        } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Kind::Jpeg)
        } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
            Some(Kind::Gif)
        } else if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
            Some(Kind::Webp)
        } else {
            None
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Kind::Png => "image/png",
            Kind::Jpeg => "image/jpeg",
            Kind::Gif => "image/gif",
            Kind::Webp => "image/webp",
        }
    }

    fn format(self) -> ImageFormat {
        match self {
            Kind::Png => ImageFormat::Png,
            Kind::Jpeg => ImageFormat::Jpeg,
            Kind::Gif => ImageFormat::Gif,
            Kind::Webp => ImageFormat::WebP,
        }
    }
}

/// Why an image is refused. Not retryable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    #[error("the image is {width} × {height} pixels; at most {max} pixels are accepted")]
    TooManyPixels { width: u32, height: u32, max: u64 },
    #[error("the file looks like {0:?} but is not a readable image")]
    Unreadable(Kind),
}

/// An image ready to keep: its bytes without metadata, its size and a PNG thumbnail.
pub struct Processed {
    pub bytes: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub thumbnail: Vec<u8>,
}

/// Checks, cleans and previews an image of `kind`. The header's size is checked against
/// `max_pixels` before decoding, so a small file claiming a huge canvas costs nothing.
pub fn process(
    bytes: &[u8],
    kind: Kind,
    max_pixels: u64,
    thumbnail_px: u32,
) -> Result<Processed, ImageError> {
    let unreadable = |_| ImageError::Unreadable(kind);
    let reader = |limits: Limits| {
        let mut reader = ImageReader::with_format(Cursor::new(bytes), kind.format());
        reader.limits(limits);
        reader
    };
    // Only the header is read here; the decoder's own limits would refuse a huge canvas
    // with a vaguer error than ours.
    let (width, height) = reader(Limits::no_limits()).into_dimensions().map_err(unreadable)?;
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(ImageError::TooManyPixels { width, height, max: max_pixels });
    }
    let mut decoder = reader(limits(max_pixels)).into_decoder().map_err(unreadable)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(unreadable)?;
    image.apply_orientation(orientation);
    let stripped = match kind {
        // Dropping the EXIF block would also drop the camera's "rotate me" flag, so a
        // photo that needs turning is stored turned, re-encoded.
        Kind::Jpeg if orientation != Orientation::NoTransforms => {
            Some(encode_jpeg(&image).map_err(unreadable)?)
        }
        Kind::Jpeg => strip_jpeg(bytes),
        Kind::Png => strip_png(bytes),
        Kind::Gif => strip_gif(bytes),
        Kind::Webp => strip_webp(bytes),
    }
    .ok_or(ImageError::Unreadable(kind))?;
    let mut thumbnail = Vec::new();
    image
        .thumbnail(thumbnail_px, thumbnail_px)
        .write_to(&mut Cursor::new(&mut thumbnail), ImageFormat::Png)
        .map_err(unreadable)?;
    Ok(Processed { bytes: stripped, width: image.width(), height: image.height(), thumbnail })
}

/// The decoder's own guard as well: no dimension or allocation beyond what `max_pixels`
/// of RGBA needs.
fn limits(max_pixels: u64) -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(u32::try_from(max_pixels).unwrap_or(u32::MAX));
    limits.max_image_height = Some(u32::try_from(max_pixels).unwrap_or(u32::MAX));
    limits.max_alloc = Some(max_pixels.saturating_mul(4).saturating_add(64 * 1024 * 1024));
    limits
}

fn encode_jpeg(image: &DynamicImage) -> Result<Vec<u8>, image::ImageError> {
    let mut out = Vec::new();
    image.to_rgb8().write_with_encoder(JpegEncoder::new_with_quality(&mut out, 90))?;
    Ok(out)
}

/// PNG without its text, time and EXIF chunks; pixel data untouched.
fn strip_png(bytes: &[u8]) -> Option<Vec<u8>> {
    const DROP: [&[u8; 4]; 5] = [b"eXIf", b"tEXt", b"zTXt", b"iTXt", b"tIME"];
    let mut out = bytes.get(..8)?.to_vec();
    let mut at = 8;
    while at < bytes.len() {
        let len = u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?) as usize;
        let end = at.checked_add(12)?.checked_add(len)?;
        let chunk = bytes.get(at..end)?;
        if !DROP.iter().any(|kind| &chunk[4..8] == *kind) {
            out.extend_from_slice(chunk);
        }
        at = end;
    }
    Some(out)
}

/// JPEG without APP1 (EXIF, XMP), APP13 (IPTC) and comments; the ICC profile (APP2),
/// JFIF and Adobe markers stay, and everything from the scan on is copied as is.
fn strip_jpeg(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = bytes.get(..2)?.to_vec();
    let mut at = 2;
    loop {
        if *bytes.get(at)? != 0xFF {
            return None;
        }
        let marker = *bytes.get(at + 1)?;
        if marker == 0xFF {
            at += 1; // fill byte
            continue;
        }
        if marker == 0xDA || marker == 0xD9 {
            out.extend_from_slice(&bytes[at..]);
            return Some(out);
        }
        let len = usize::from(u16::from_be_bytes([*bytes.get(at + 2)?, *bytes.get(at + 3)?]));
        let end = at + 2 + len;
        let segment = bytes.get(at..end)?;
        if !matches!(marker, 0xE1 | 0xED | 0xFE) {
            out.extend_from_slice(segment);
        }
        at = end;
    }
}

/// WebP without its EXIF and XMP chunks, and the extended header's flags for them cleared.
fn strip_webp(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut body = b"WEBP".to_vec();
    let mut at = 12;
    while at < bytes.len() {
        let kind = bytes.get(at..at + 4)?;
        let len = u32::from_le_bytes(bytes.get(at + 4..at + 8)?.try_into().ok()?) as usize;
        let end = (at + 8).checked_add(len + len % 2)?.min(bytes.len());
        let chunk = bytes.get(at..end)?;
        match kind {
            b"EXIF" | b"XMP " => {}
            b"VP8X" => {
                let mut chunk = chunk.to_vec();
                // Bit 3: EXIF present, bit 2: XMP present.
                *chunk.get_mut(8)? &= !0b0000_1100;
                body.extend_from_slice(&chunk);
            }
            _ => body.extend_from_slice(chunk),
        }
        at = end;
    }
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&u32::try_from(body.len()).ok()?.to_le_bytes());
    out.extend_from_slice(&body);
    Some(out)
}

/// GIF without comment blocks and application blocks other than the looping ones
/// (`NETSCAPE2.0`, `ANIMEXTS1.0`), where XMP would hide.
fn strip_gif(bytes: &[u8]) -> Option<Vec<u8>> {
    fn sub_blocks_end(bytes: &[u8], mut at: usize) -> Option<usize> {
        loop {
            let len = usize::from(*bytes.get(at)?);
            at += 1 + len;
            if len == 0 {
                return Some(at);
            }
        }
    }
    let flags = *bytes.get(10)?;
    let mut at = 13 + if flags & 0x80 != 0 { 3 << ((flags & 7) + 1) } else { 0 };
    let mut out = bytes.get(..at)?.to_vec();
    loop {
        match *bytes.get(at)? {
            0x3B => {
                out.push(0x3B);
                return Some(out);
            }
            0x21 => {
                let label = *bytes.get(at + 1)?;
                let end = sub_blocks_end(bytes, at + 2)?;
                let keep = match label {
                    0xFE => false,
                    0xFF => matches!(bytes.get(at + 3..at + 14), Some(b"NETSCAPE2.0" | b"ANIMEXTS1.0")),
                    _ => true,
                };
                if keep {
                    out.extend_from_slice(bytes.get(at..end)?);
                }
                at = end;
            }
            0x2C => {
                let local = *bytes.get(at + 9)?;
                let table = if local & 0x80 != 0 { 3 << ((local & 7) + 1) } else { 0 };
                // Descriptor, local colour table, LZW code size, then the data blocks.
                let end = sub_blocks_end(bytes, at + 10 + table + 1)?;
                out.extend_from_slice(bytes.get(at..end)?);
                at = end;
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_type_comes_from_the_bytes() {
        assert_eq!(Kind::sniff(b"\x89PNG\r\n\x1a\n...."), Some(Kind::Png));
        assert_eq!(Kind::sniff(b"GIF89a"), Some(Kind::Gif));
        assert_eq!(Kind::sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some(Kind::Webp));
        assert_eq!(Kind::sniff(b"<svg onload=alert(1)>"), None, "SVG is a plain file, never an image");
        assert_eq!(Kind::sniff(b"PNG but not really"), None);
    }

    #[test]
    fn png_text_chunks_are_dropped_and_pixels_kept() {
        let image = DynamicImage::new_rgb8(3, 2);
        let mut png = Vec::new();
        image.write_to(&mut Cursor::new(&mut png), ImageFormat::Png).expect("encode");
        // Put a tEXt chunk after IHDR (8 + 25 bytes).
        let mut with_text = png[..33].to_vec();
        let text = b"tEXtComment\0secret place";
        with_text.extend_from_slice(&((text.len() - 4) as u32).to_be_bytes());
        with_text.extend_from_slice(text);
        with_text.extend_from_slice(&[0, 0, 0, 0]);
        with_text.extend_from_slice(&png[33..]);
        let stripped = strip_png(&with_text).expect("well-formed");
        assert_eq!(stripped, png, "only the text chunk is gone");
    }

    #[test]
    fn gif_comments_are_dropped_and_the_picture_kept() {
        let mut gif = Vec::new();
        DynamicImage::new_rgba8(4, 3).write_to(&mut Cursor::new(&mut gif), ImageFormat::Gif).expect("encode");
        let flags = gif[10];
        let header = 13 + if flags & 0x80 != 0 { 3 << ((flags & 7) + 1) } else { 0 };
        let mut with_comment = gif[..header].to_vec();
        with_comment.extend_from_slice(&[0x21, 0xFE, 9]);
        with_comment.extend_from_slice(b"GPS 48.85");
        with_comment.push(0);
        with_comment.extend_from_slice(&gif[header..]);
        let stripped = strip_gif(&with_comment).expect("well-formed");
        assert_eq!(stripped, gif, "only the comment block is gone");
    }

    #[test]
    fn webp_metadata_chunks_are_dropped_and_the_size_rewritten() {
        let mut webp = Vec::new();
        DynamicImage::new_rgba8(4, 3)
            .write_to(&mut Cursor::new(&mut webp), ImageFormat::WebP)
            .expect("encode");
        let mut with_exif = webp.clone();
        with_exif.extend_from_slice(b"EXIF");
        with_exif.extend_from_slice(&5u32.to_le_bytes());
        with_exif.extend_from_slice(b"GPS!!\0"); // five bytes and the pad byte
        let size = u32::try_from(with_exif.len() - 8).expect("small");
        with_exif[4..8].copy_from_slice(&size.to_le_bytes());
        let stripped = strip_webp(&with_exif).expect("well-formed");
        assert_eq!(stripped, webp, "only the EXIF chunk is gone, and the RIFF size fits again");
        let decoded = image::load_from_memory(&stripped).expect("still a WebP");
        assert_eq!((decoded.width(), decoded.height()), (4, 3));
    }

    #[test]
    fn a_header_claiming_too_many_pixels_is_refused_before_decoding() {
        let mut png = Vec::new();
        DynamicImage::new_rgb8(300, 200)
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .expect("encode");
        let refused = process(&png, Kind::Png, 50_000, 100);
        assert!(
            matches!(refused, Err(ImageError::TooManyPixels { width: 300, height: 200, .. })),
            "60,000 > 50,000 pixels"
        );
        let done = process(&png, Kind::Png, 60_000, 100).expect("within the limit");
        assert_eq!((done.width, done.height), (300, 200));
        let thumb = image::load_from_memory(&done.thumbnail).expect("a PNG");
        assert_eq!(thumb.width(), 100, "the longer side fits");
        assert!((66..=67).contains(&thumb.height()), "the aspect is kept: {}", thumb.height());
    }
}
