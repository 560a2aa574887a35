//! Deployment operations: blueprint to deployment, merge (PUT), slice (DELETE with a body), `as_blueprint` export and service status timeouts.
