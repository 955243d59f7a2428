fn main() {
    // Per-command permissions (allow-agenda, allow-status, ...) for the capability file.
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(
        tauri_build::AppManifest::new().commands(&[
            "agenda",
            "status",
            "sync_now",
            "open_item",
            "join_meeting",
            "sign_in_info",
            "sign_in",
            "sign_in_device",
            "cancel_sign_in",
            "sign_out",
            "account_add",
            "account_sign_in",
            "account_sign_out",
            "account_remove",
            "presence_plan",
            "presence_skip",
            "settings_get",
            "settings_save",
            "presence_preview",
            "forwarding_test",
            "set_registration",
            "open_admin_guide",
            "copy_join_link",
            "ui_painted",
            "ui_ready",
            "close_window",
            "forwarding_secret_save",
        ]),
    ))
    .expect("failed to run tauri-build");
}
