//! Shared server state.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::mailbox::Mailbox;
use crate::tokens::AuthState;

#[derive(Debug)]
pub struct Shared {
    pub base_url: String,
    pub mailbox: Mutex<Mailbox>,
    pub auth: Mutex<AuthState>,
    pub requests: AtomicU64,
    pub bytes_sent: AtomicU64,
}

pub type AppState = Arc<Shared>;

impl Shared {
    /// Locks the mailbox. A poisoned lock (a panic while holding it) is taken over: the
    /// emulator keeps serving whatever state there is.
    pub fn mailbox(&self) -> MutexGuard<'_, Mailbox> {
        self.mailbox.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn auth(&self) -> MutexGuard<'_, AuthState> {
        self.auth.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn count_request(&self, bytes: u64) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.bytes_sent.fetch_add(bytes, Ordering::Relaxed);
    }
}
