//! Server-wide switches an admin can flip.

use serde::{Deserialize, Serialize};

/// Who may create an account. The first account on a server is always allowed (it
/// becomes the admin), whatever the mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum RegistrationMode {
    /// Anyone who reaches the server.
    Open,
    /// Only someone holding a valid invite code.
    InviteOnly,
    /// Nobody; admins create accounts.
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FeatureFlags {
    pub voice: bool,
    pub registration: RegistrationMode,
    /// Members (not only admins) may create invites.
    pub member_invites: bool,
    pub link_previews: bool,
    /// New accounts must confirm their email before they can log in.
    pub email_confirmation: bool,
    pub turn: bool,
}

/// `PATCH /api/admin/feature_flags`: each field present is set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields))]
pub struct UpdateFeatureFlagsRequest {
    #[serde(default)]
    pub voice: Option<bool>,
    #[serde(default)]
    pub registration: Option<RegistrationMode>,
    #[serde(default)]
    pub member_invites: Option<bool>,
    #[serde(default)]
    pub link_previews: Option<bool>,
    #[serde(default)]
    pub email_confirmation: Option<bool>,
    #[serde(default)]
    pub turn: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_modes_are_the_strings_the_api_documents() {
        let modes = [RegistrationMode::Open, RegistrationMode::InviteOnly, RegistrationMode::Closed];
        let json = serde_json::to_value(modes).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!(["open", "invite_only", "closed"]),
            "the wire spelling is a contract"
        );
    }
}
