//! The HAProxy marshaller: gateways → a complete HAProxy 2.6 configuration plus the agent data trailer.
//!
//! [`HaproxyMarshaller`] builds a checked [`model::TemplateModel`] from the gateways (every piece of user text
//! escaped or refused by [`escape`]), renders it with a handlebars template (the bundled
//! `templates/haproxy-2.6.hbs` or one the operator supplies), and wraps the text and the map files in an
//! [`envelope::Envelope`]. A replacement template is bounded by [`user_template`] and its output must keep to
//! [`config_policy`]'s allow-list; [`check_template`] also proves it against the real `haproxy -c` before it is
//! stored.

pub mod acl;
pub mod blame;
mod bundled;
pub mod check;
pub mod config_policy;
pub mod envelope;
pub mod escape;
pub mod marshaller;
pub mod model;
pub mod options;
pub mod raw_text;
pub mod samples;
pub mod user_template;
pub mod words;

pub use check::{check_config, check_template};
pub use marshaller::{HaproxyMarshaller, BUNDLED_TEMPLATE, HAPROXY_KIND, HAPROXY_VERSION};
pub use options::HaproxyOptions;
