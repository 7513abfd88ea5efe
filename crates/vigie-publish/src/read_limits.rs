//! What one series read may use, taken from its server's state: the
//! heavy-read gate of `Guards` (`limits.rs`), the check that its client
//! is still there and the bound on the response's size.

use crate::error::ApiError;
use crate::limits::HeavyPermit;
use crate::state::AppState;

/// What one series read may use: the heavy-read gate, the check that its
/// client is still there and the bound on the response's size.
/// [`ReadLimits::none`] reads without limits (reports, tests).
pub struct ReadLimits {
    state: Option<AppState>,
    permit: Option<HeavyPermit>,
}

impl ReadLimits {
    /// No gate, no cancellation, no bound.
    pub fn none() -> ReadLimits {
        ReadLimits {
            state: None,
            permit: None,
        }
    }

    /// The limits of `state`'s server.
    pub fn of(state: &AppState) -> ReadLimits {
        ReadLimits {
            state: Some(state.clone()),
            permit: None,
        }
    }

    /// Admits a read of `bins` bins (summed over its series): a heavy one
    /// takes a heavy-read slot, held until these limits are dropped, or is
    /// refused with 503 when none is free.
    pub fn admit(&mut self, bins: u64) -> Result<(), ApiError> {
        let Some(state) = &self.state else {
            return Ok(());
        };
        if bins > state.limits().heavy_bins && self.permit.is_none() {
            match state.guards().try_heavy() {
                Ok(permit) => self.permit = Some(permit),
                Err(e) => {
                    state.metrics().count_heavy_refused();
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Admits early, before any store read, a request whose `from` and
    /// `until` are both given: its range alone (one series at least) may
    /// make it heavy, and then a full gate refuses it at no cost.
    pub fn admit_range(
        &mut self,
        from: Option<i64>,
        until: Option<i64>,
        bin_secs: u32,
    ) -> Result<(), ApiError> {
        match (from, until) {
            (Some(from), Some(until)) if until > from => {
                self.admit(((until - from) / i64::from(bin_secs.max(1))) as u64)
            }
            _ => Ok(()),
        }
    }

    /// Gives the heavy slot back while the work waits on its client (a
    /// streamed response whose client reads slowly); says whether it held one.
    pub(crate) fn pause(&mut self) -> bool {
        self.permit.take().is_some()
    }

    /// Takes a heavy slot again after [`ReadLimits::pause`], waiting for one
    /// (called from a blocking thread).
    pub(crate) fn resume(&mut self) {
        if let Some(state) = &self.state {
            self.permit = state.guards().wait_heavy_blocking();
        }
    }

    /// Err when the client of the request this thread works for has gone
    /// ([`crate::limits::client_gone`]): stop working.
    pub fn check(&self) -> Result<(), ApiError> {
        if crate::limits::client_gone() {
            return Err(ApiError::client_gone());
        }
        Ok(())
    }

    /// Err when a response of `bytes` bytes would be over the bound.
    pub fn check_size(&self, bytes: usize) -> Result<(), ApiError> {
        let Some(state) = &self.state else {
            return Ok(());
        };
        let max = state.limits().max_response_bytes;
        if bytes > max {
            return Err(ApiError::bad_request(format!(
                "the response would exceed {max} bytes: ask fewer signals, a shorter range or a smaller maxPoints"
            )));
        }
        Ok(())
    }
}
