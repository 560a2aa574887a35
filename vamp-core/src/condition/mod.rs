//! The condition language of routes: parser to an [`Expr`](expr::Expr), normal form as OR of ANDs, and errors that give the position of what could not be parsed. No HAProxy knowledge lives here.
