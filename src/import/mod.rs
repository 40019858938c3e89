//! Importers from other schedulers' exports into pgdag documents. Pure: text in,
//! specs and a report out; the CLI and the web form do the reading and the applying.

pub mod dolphinscheduler;
