//! Catalogue cases raised by operations (merge, slice, gateway planning, workflow updates) rather than by reading.

use vamp_core::dsl;
use vamp_core::ops::workflows::check_workflow_update;

use super::{call_case, Case};

fn workflow(text: &str) -> vamp_core::model::Workflow {
    dsl::read_workflow(text).expect("workflow")
}

pub fn cases() -> Vec<Case> {
    vec![
        call_case!(DeploymentWorkflowNameCollision, "name", "creating workflow `shop` while a deployment `shop` exists", || {
            check_workflow_update(None, &workflow("name: shop\nbreed: metrics\nschedule: daemon\n"), true)
        }),
        call_case!(WorkflowUpdateError, "status", "updating workflow `metrics` while it is running", || {
            let running = workflow("name: metrics\nbreed: metrics\nschedule: daemon\nstatus: running\n");
            check_workflow_update(Some(&running), &running, false)
        }),
    ]
}
