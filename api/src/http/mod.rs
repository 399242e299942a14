//! What every handler needs from a request, as typed extractors whose rejections use the error
//! envelope: the caller's key with the scope an operation requires ([`auth`]), a JSON body
//! parsed with serde ([`body`]), the query, list parameters and path ids ([`params`]), and the
//! request id and Idempotency-Key ([`headers`]); the replica's cache of keys ([`key_cache`]); the
//! bound on requests worked on at once ([`admission`]); and the access log and HTTP metrics of
//! every request ([`observe`]).

pub mod admission;
pub mod auth;
pub mod body;
pub mod connections;
pub mod headers;
pub mod key_cache;
pub mod observe;
pub mod params;
pub mod rate_tokens;

pub use admission::admit;
pub use auth::{
    authenticate, Caller, Generate, Permission, ReadDiagrams, ReadFolders, ReadGenerations,
    WriteDiagrams, WriteFolders,
};
pub use body::{deserialize, Body, FromJson};
pub use headers::{IdempotencyKey, RequestId};
pub use params::{true_or_false, ListParams, PathId, Query, Resource};
