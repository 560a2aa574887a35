//! The Vamp reference server, as a library: a platform embeds Vamp through [`vamp::Vamp`]'s builder with its own
//! backends, and the `vamp` binary is a thin main over the same builder.

pub mod ha;
