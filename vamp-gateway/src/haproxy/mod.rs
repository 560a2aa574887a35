//! The HAProxy marshaller: gateways → a complete HAProxy 2.6 configuration plus the agent data trailer.
//!
//! [`HaproxyMarshaller`] builds a checked [`model::TemplateModel`] from the gateways (every piece of user text
//! escaped or refused by [`escape`]), renders it with a handlebars template (the bundled
//! `templates/haproxy-2.6.hbs` or one the operator supplies), and wraps the text and the map files in an
//! [`envelope::Envelope`]. [`check_template`] proves a replacement template against the real `haproxy -c`
//! before it is stored.

pub mod acl;
mod bundled;
pub mod check;
pub mod envelope;
pub mod escape;
pub mod marshaller;
pub mod model;
pub mod options;
pub mod samples;

pub use check::{check_config, check_template};
pub use marshaller::{HaproxyMarshaller, BUNDLED_TEMPLATE, HAPROXY_KIND, HAPROXY_VERSION};
pub use options::HaproxyOptions;
