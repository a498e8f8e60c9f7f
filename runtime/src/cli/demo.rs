//! `tib demo`: a demo Acme API served on 127.0.0.1, connected and synced, and
//! its users shown: the whole path, offline.

use super::show::{USER_HEADER, table, user_cells};
use super::{Context, Failure};
use crate::operate::{Overrides, Trial};
use crate::schedule;

impl Context {
    pub(super) async fn demo(&self) -> Result<(), Failure> {
        let api = crate::demo::start().await.map_err(|e| Failure(format!("cannot start the demo API: {e}"), 2))?;
        println!("demo Acme API on {}", api.base_url);
        let flags = [("tenant".to_owned(), "demo".to_owned()), ("api_token".to_owned(), crate::demo::TOKEN.to_owned())];
        let base_url = url::Url::parse(&api.base_url).map_err(|e| Failure(e.to_string(), 2))?;
        let overrides = Overrides { base_url: Some(base_url), ..Overrides::default() };
        // The demo API is up: its credentials are tried as an operator's would be.
        self.connect("acme", "Demo", &flags, overrides, schedule::DAY, Trial::Tried).await?;
        self.sync(Some("acme".to_owned()), Some("Demo".to_owned()), false, 1).await?;
        let users = self.services.all_users("acme", "Demo", false).await?;
        let rows: Vec<Vec<String>> = users.iter().take(8).map(user_cells).collect();
        print!("{}", table(&USER_HEADER, &rows));
        let store = self.store_shown();
        println!("… {} active users stored in {store}", users.len());
        println!("look further: tib --store {store} users acme Demo --all --format json");
        println!("              tib --store {store} list");
        Ok(())
    }
}
