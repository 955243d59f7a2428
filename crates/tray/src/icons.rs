//! The tray's PNG icons (the window app's own) as the ARGB32 pixmaps a StatusNotifierItem
//! carries, decoded once at start.

use presently_desktop::tray::{icon_bytes, TrayIconKind};

const KINDS: [TrayIconKind; 6] = [
    TrayIconKind::SignedOut,
    TrayIconKind::SignedIn,
    TrayIconKind::Syncing,
    TrayIconKind::Offline,
    TrayIconKind::Error,
    TrayIconKind::Paused,
];

/// Every icon state's pixmap (a state whose PNG did not decode has none: the host shows
/// its title instead).
pub struct Icons(Vec<(TrayIconKind, ksni::Icon)>);

impl Icons {
    pub fn load() -> Self {
        Self(
            KINDS
                .iter()
                .filter_map(|&kind| match decode(icon_bytes(kind)) {
                    Ok(icon) => Some((kind, icon)),
                    Err(e) => {
                        tracing::warn!(?kind, error = %e, "cannot decode a tray icon");
                        None
                    }
                })
                .collect(),
        )
    }

    pub fn get(&self, kind: TrayIconKind) -> Option<ksni::Icon> {
        self.0
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, icon)| icon.clone())
    }
}

/// A PNG (8-bit RGB or RGBA) to ARGB32 in network byte order.
pub fn decode(png_bytes: &[u8]) -> Result<ksni::Icon, png::DecodingError> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info()?;
    let mut buffer = vec![0; reader.output_buffer_size().unwrap_or(0)];
    let frame = reader.next_frame(&mut buffer)?;
    let pixels = &buffer[..frame.buffer_size()];
    let argb: Vec<u8> = match frame.color_type {
        png::ColorType::Rgba => pixels
            .chunks_exact(4)
            .flat_map(|p| [p[3], p[0], p[1], p[2]])
            .collect(),
        png::ColorType::Rgb => pixels
            .chunks_exact(3)
            .flat_map(|p| [255, p[0], p[1], p[2]])
            .collect(),
        png::ColorType::GrayscaleAlpha => pixels
            .chunks_exact(2)
            .flat_map(|p| [p[1], p[0], p[0], p[0]])
            .collect(),
        png::ColorType::Grayscale | png::ColorType::Indexed => {
            pixels.iter().flat_map(|&g| [255, g, g, g]).collect()
        }
    };
    Ok(ksni::Icon {
        width: i32::try_from(frame.width).unwrap_or(0),
        height: i32::try_from(frame.height).unwrap_or(0),
        data: argb,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_has_a_square_pixmap_with_alpha_first() {
        let icons = Icons::load();
        for kind in KINDS {
            let icon = icons.get(kind).expect("decoded");
            assert!(icon.width > 0 && icon.width == icon.height, "{kind:?}");
            assert_eq!(
                icon.data.len(),
                usize::try_from(icon.width * icon.height * 4).expect("size")
            );
            // The icons have transparent corners: ARGB puts alpha first.
            assert_eq!(icon.data[0], 0, "{kind:?}: top-left alpha");
        }
        let syncing = icons.get(TrayIconKind::Syncing).expect("syncing");
        let signed_in = icons.get(TrayIconKind::SignedIn).expect("signed in");
        assert_ne!(syncing.data, signed_in.data, "the states look different");
    }
}
