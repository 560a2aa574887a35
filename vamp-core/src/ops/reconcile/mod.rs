//! Reconcile planning: from the desired deployments and what a driver reports running to the list of actions.
