//! Server-wide switches an admin can flip.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FeatureFlags {
    pub voice: bool,
    pub registration: bool,
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
    pub registration: Option<bool>,
    #[serde(default)]
    pub link_previews: Option<bool>,
    #[serde(default)]
    pub email_confirmation: Option<bool>,
    #[serde(default)]
    pub turn: Option<bool>,
}
