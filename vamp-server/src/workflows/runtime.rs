//! What the workflow loop runs: per workflow either a [`Scheduler`] (a script) or a deployed service (a
//! breed-based workflow), each with the fingerprint it was started from, so a changed workflow, breed or scale
//! restarts it. Owned by the workflow loop; dropping it stops every scheduler (breed services keep running,
//! like deployment services, until the workflow is suspended or stopped).

use std::collections::HashMap;

use vamp_core::Result;

use super::container;
use super::resolved::ResolvedWorkflow;
use super::scheduler::Scheduler;
use crate::vamp::Vamp;

enum Running {
    Script(Scheduler),
    Service,
}

struct Entry {
    fingerprint: String,
    running: Running,
}

/// What [`WorkflowRuntime::ensure`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ensured {
    /// It was already running as asked.
    Unchanged,
    /// It was started.
    Started,
    /// It ran an older definition and was restarted.
    Restarted,
}

/// The workflows running in this process.
pub struct WorkflowRuntime {
    vamp: Vamp,
    active: HashMap<String, Entry>,
}

impl WorkflowRuntime {
    /// Nothing running yet.
    pub fn new(vamp: Vamp) -> Self {
        WorkflowRuntime {
            vamp,
            active: HashMap::new(),
        }
    }

    /// Whether `name` runs here.
    pub fn is_running(&self, name: &str) -> bool {
        self.active.contains_key(name)
    }

    /// The names of the workflows running here.
    pub fn names(&self) -> Vec<String> {
        self.active.keys().cloned().collect()
    }

    /// Makes `workflow` run as defined: starts it, restarts it when its fingerprint changed, and redeploys a
    /// breed-based workflow whose service disappeared. Fails when its service cannot be deployed (nothing then
    /// runs for it).
    pub async fn ensure(&mut self, workflow: ResolvedWorkflow) -> Result<Ensured> {
        let name = workflow.name().to_string();
        let mut restarted = false;
        if let Some(entry) = self.active.get(&name) {
            if entry.fingerprint == workflow.fingerprint {
                if matches!(entry.running, Running::Service)
                    && !container::is_deployed(&self.vamp, &workflow).await?
                {
                    tracing::warn!(workflow = %name, "the workflow's service disappeared; deploying it again");
                    container::deploy(&self.vamp, &workflow).await?;
                }
                return Ok(Ensured::Unchanged);
            }
            self.stop(&name).await?;
            restarted = true;
        }
        let fingerprint = workflow.fingerprint.clone();
        let running = if workflow.is_script() {
            Running::Script(Scheduler::start(self.vamp.clone(), workflow))
        } else {
            container::deploy(&self.vamp, &workflow).await?;
            Running::Service
        };
        self.active.insert(name, Entry { fingerprint, running });
        Ok(if restarted {
            Ensured::Restarted
        } else {
            Ensured::Started
        })
    }

    /// Stops `name` if it runs here: the scheduler and its run in progress, or the service. `Ok(true)` when
    /// something was stopped. A service that cannot be undeployed stays recorded, so a later pass tries again.
    pub async fn stop(&mut self, name: &str) -> Result<bool> {
        let Some(entry) = self.active.remove(name) else {
            return Ok(false);
        };
        match entry.running {
            Running::Script(scheduler) => scheduler.stop().await,
            Running::Service => {
                if let Err(e) = container::undeploy(&self.vamp, name).await {
                    self.active.insert(name.to_string(), entry);
                    return Err(e);
                }
            }
        }
        Ok(true)
    }

    /// Stops every scheduler and waits for their runs (server shutdown); services keep running.
    pub async fn stop_scripts(&mut self) {
        let names: Vec<String> = self
            .active
            .iter()
            .filter(|(_, e)| matches!(e.running, Running::Script(_)))
            .map(|(n, _)| n.clone())
            .collect();
        for name in names {
            if let Some(Entry {
                running: Running::Script(scheduler),
                ..
            }) = self.active.remove(&name)
            {
                scheduler.stop().await;
            }
        }
    }
}
