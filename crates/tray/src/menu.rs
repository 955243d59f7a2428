//! The tray model ([`TrayMenu`]) as a StatusNotifierItem: icon, tooltip and a D-Bus menu
//! whose items send their [`TrayAction`] to the host's loop.

use crate::icons::Icons;
use presently_desktop::tray::{TrayAction, TrayItem, TrayMenu};
use tokio::sync::mpsc::UnboundedSender;

/// One menu entry as the D-Bus menu shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Item {
        /// With `_` doubled: a single one marks an access key in D-Bus menus.
        label: String,
        enabled: bool,
        action: Option<TrayAction>,
    },
    Separator,
}

/// The model's items as D-Bus menu entries.
pub fn entries(model: &TrayMenu) -> Vec<Entry> {
    let label = |text: &str| text.replace('_', "__");
    model
        .items
        .iter()
        .map(|item| match item {
            TrayItem::Label(text) => Entry::Item {
                label: label(text),
                enabled: false,
                action: None,
            },
            TrayItem::Action { action, title } => Entry::Item {
                label: label(title),
                enabled: true,
                action: Some(action.clone()),
            },
            TrayItem::Separator => Entry::Separator,
        })
        .collect()
}

/// The StatusNotifierItem: what ksni asks for, read from the current model.
pub struct HostTray {
    pub model: TrayMenu,
    pub actions: UnboundedSender<TrayAction>,
    pub icons: Icons,
}

impl ksni::Tray for HostTray {
    fn id(&self) -> String {
        "presently".into()
    }

    fn title(&self) -> String {
        "Presently".into()
    }

    fn category(&self) -> ksni::Category {
        ksni::Category::ApplicationStatus
    }

    fn icon_pixmap(&self) -> Vec<ksni::Icon> {
        self.icons.get(self.model.icon).into_iter().collect()
    }

    fn tool_tip(&self) -> ksni::ToolTip {
        ksni::ToolTip {
            title: self.model.tooltip.clone(),
            ..Default::default()
        }
    }

    /// A click on the icon (where the host sends one rather than showing the menu) opens
    /// the window, as on Windows and macOS.
    fn activate(&mut self, _x: i32, _y: i32) {
        let _ = self.actions.send(TrayAction::OpenWindow);
    }

    fn menu(&self) -> Vec<ksni::MenuItem<Self>> {
        entries(&self.model)
            .into_iter()
            .map(|entry| match entry {
                Entry::Separator => ksni::MenuItem::Separator,
                Entry::Item {
                    label,
                    enabled,
                    action,
                } => ksni::menu::StandardItem {
                    label,
                    enabled,
                    activate: Box::new(move |tray: &mut Self| {
                        if let Some(action) = &action {
                            let _ = tray.actions.send(action.clone());
                        }
                    }),
                    ..Default::default()
                }
                .into(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use presently_desktop::tray::TrayIconKind;

    #[test]
    fn labels_are_greyed_out_actions_carry_their_action_and_underscores_stay_visible() {
        let model = TrayMenu {
            icon: TrayIconKind::SignedIn,
            tooltip: "Presently".into(),
            title: None,
            items: vec![
                TrayItem::Label("Next: team_sync".into()),
                TrayItem::Separator,
                TrayItem::Action {
                    action: TrayAction::JoinItem("a_1".into()),
                    title: "09:00 plan_b".into(),
                },
                TrayItem::Action {
                    action: TrayAction::Quit,
                    title: "Quit Presently".into(),
                },
            ],
        };
        assert_eq!(
            entries(&model),
            vec![
                Entry::Item {
                    label: "Next: team__sync".into(),
                    enabled: false,
                    action: None
                },
                Entry::Separator,
                Entry::Item {
                    label: "09:00 plan__b".into(),
                    enabled: true,
                    action: Some(TrayAction::JoinItem("a_1".into()))
                },
                Entry::Item {
                    label: "Quit Presently".into(),
                    enabled: true,
                    action: Some(TrayAction::Quit)
                },
            ]
        );
    }
}
