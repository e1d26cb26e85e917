//! The `integration_points` table as sea-orm sees it, written by hand to mirror
//! migration `m20261127_000001_create_integration_points`.
//!
//! Rows are plain storage values: instants are milliseconds since the Unix
//! epoch and the version is a bare integer. The mapper turns them into domain
//! values through the domain's constructors.

use std::fmt;

// Named one by one rather than globbed: these are the names the derives
// below expand to.
use sea_orm::entity::prelude::{
    ActiveModelBehavior, DeriveEntityModel, DerivePrimaryKey, DeriveRelation, EntityTrait,
    EnumIter, PrimaryKeyTrait, Uuid,
};

/// One row of `integration_points`.
#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "integration_points")]
pub struct Model {
    /// `id`: the point's UUID, the primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// `code`, unique.
    pub code: String,
    /// `type`.
    pub r#type: String,
    /// `token_local`, unique; a secret.
    pub token_local: String,
    /// `token_remote`; a secret.
    pub token_remote: String,
    /// `token_remote2`; a secret.
    pub token_remote2: String,
    /// `url`.
    pub url: String,
    /// `recv_svcscriptcode`.
    pub recv_svcscriptcode: String,
    /// `recv_svcscriptcode_ws`.
    pub recv_svcscriptcode_ws: String,
    /// `send_svcscriptcode`.
    pub send_svcscriptcode: String,
    /// `send_svcscriptcode_ws`.
    pub send_svcscriptcode_ws: String,
    /// `opts.title`.
    pub opts_title: String,
    /// `opts.comment`.
    pub opts_comment: String,
    /// `opts.allow_files_api`.
    pub opts_allow_files_api: bool,
    /// `opts.issync`.
    pub opts_issync: bool,
    /// `ext.ct`, milliseconds since the Unix epoch.
    pub ct: i64,
    /// `ext.lwt`, milliseconds since the Unix epoch.
    pub lwt: i64,
    /// The row version, from 1.
    pub version: i64,
}

// A row holds credentials: like the domain's token types, its debug output
// must not carry them into logs.
impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const REDACTED: &str = "<redacted>";
        // Without `..`: a new column must be shown or redacted here.
        let Self {
            id,
            code,
            r#type,
            token_local: _,
            token_remote: _,
            token_remote2: _,
            url,
            recv_svcscriptcode,
            recv_svcscriptcode_ws,
            send_svcscriptcode,
            send_svcscriptcode_ws,
            opts_title,
            opts_comment,
            opts_allow_files_api,
            opts_issync,
            ct,
            lwt,
            version,
        } = self;
        f.debug_struct("Model")
            .field("id", id)
            .field("code", code)
            .field("type", r#type)
            .field("token_local", &REDACTED)
            .field("token_remote", &REDACTED)
            .field("token_remote2", &REDACTED)
            .field("url", url)
            .field("recv_svcscriptcode", recv_svcscriptcode)
            .field("recv_svcscriptcode_ws", recv_svcscriptcode_ws)
            .field("send_svcscriptcode", send_svcscriptcode)
            .field("send_svcscriptcode_ws", send_svcscriptcode_ws)
            .field("opts_title", opts_title)
            .field("opts_comment", opts_comment)
            .field("opts_allow_files_api", opts_allow_files_api)
            .field("opts_issync", opts_issync)
            .field("ct", ct)
            .field("lwt", lwt)
            .field("version", version)
            .finish()
    }
}

/// The table relates to no other.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
