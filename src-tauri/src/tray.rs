//! The tray icon in the window app: the model ([`presently_desktop::tray`]) turned into a
//! Tauri menu.

pub use presently_desktop::tray::*;

/// The edge: turns the model into a Tauri menu and installs it with the tooltip.
pub fn apply<R: tauri::Runtime>(
    app: &tauri::AppHandle<R>,
    tray: &tauri::tray::TrayIcon<R>,
    model: &TrayMenu,
) -> tauri::Result<()> {
    use tauri::menu::{MenuBuilder, MenuItemBuilder};
    let mut menu = MenuBuilder::new(app);
    for item in &model.items {
        menu = match item {
            TrayItem::Label(text) => {
                menu.item(&MenuItemBuilder::new(text).enabled(false).build(app)?)
            }
            TrayItem::Action { action, title } => {
                menu.item(&MenuItemBuilder::with_id(action.to_id(), title).build(app)?)
            }
            TrayItem::Separator => menu.separator(),
        };
    }
    tray.set_menu(Some(menu.build()?))?;
    tray.set_tooltip(Some(&model.tooltip))?;
    tray.set_icon(Some(tauri::image::Image::from_bytes(icon_bytes(
        model.icon,
    ))?))?;
    // Only macOS shows a title beside the icon; Linux indicators would turn it into a label
    // that crowds the panel.
    #[cfg(target_os = "macos")]
    tray.set_title(model.title.as_deref())?;
    Ok(())
}
