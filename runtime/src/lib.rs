//! The tib runtime: the one binary an operator deploys. It links every
//! generated connector through the registry, holds the connected accounts,
//! syncs each on a schedule into the store, and applies the error policy.

pub mod access;
pub mod api;
pub mod builder;
pub mod cli;
pub mod clock;
pub mod console;
pub mod csv;
pub mod demo;
pub mod integrations;
pub mod listen;
pub mod live;
pub mod notify;
pub mod oauth;
pub mod operate;
pub mod owner;
pub mod schedule;
pub mod security;
pub mod server;
pub mod services;
pub mod store;
pub mod sync;
pub mod vault;
pub mod web;
