//! The environment a workflow runs with (`WorkflowValueResolver` in the original): the breed's variables
//! overridden by the workflow's, each value interpolated with `$workflow` (also `$workflow.name`) → the
//! workflow's name, `$namespace` → the namespace, `$data` → base64 of the triggering event's JSON (empty text
//! without one), and `$NAME` → a constant or another variable of the breed. Unresolved references become empty
//! text, as in the original.

use base64::Engine as _;
use indexmap::IndexMap;
use vamp_core::model::{Breed, EnvironmentVariable, Workflow};
use vamp_core::resolve::{interpolate, Strictness, Values};

/// The variable holding a run's time limit in seconds (0 = none), as the workflow agent read it.
pub const TIMEOUT_VARIABLE: &str = "VAMP_WORKFLOW_EXECUTION_TIMEOUT";
/// The variable holding a daemon's period in seconds (0 = run once), as the workflow agent read it.
pub const PERIOD_VARIABLE: &str = "VAMP_WORKFLOW_EXECUTION_PERIOD";

/// The breed's variables with the workflow's overrides, in the breed's order, overrides of variables the breed
/// lacks last.
pub fn merged_variables(workflow: &Workflow, breed: &Breed) -> Vec<EnvironmentVariable> {
    let mut out: Vec<EnvironmentVariable> = breed.environment_variables.clone();
    for var in &workflow.environment_variables {
        match out.iter_mut().find(|v| v.name == var.name) {
            Some(existing) => {
                existing.value = var.value.clone();
                if var.alias.is_some() {
                    existing.alias = var.alias.clone();
                }
            }
            None => out.push(var.clone()),
        }
    }
    out
}

/// `$data` for `event`: base64 (standard alphabet, padded) of its JSON.
pub fn encoded_data(event: &serde_json::Value) -> String {
    base64::engine::general_purpose::STANDARD.encode(event.to_string())
}

/// The variables of `workflow` (breed ∪ workflow) by container name, every value interpolated; `data` is the
/// triggering event, if any.
pub fn workflow_environment(
    workflow: &Workflow,
    breed: &Breed,
    namespace: &str,
    data: Option<&serde_json::Value>,
) -> IndexMap<String, String> {
    let vars = merged_variables(workflow, breed);
    let mut values = Values::new()
        .with_local("workflow", &workflow.name)
        .with_local("namespace", namespace)
        .with_local("data", &data.map(encoded_data).unwrap_or_default());
    for c in &breed.constants {
        values = values.with_local(&c.name, &c.value);
    }
    for v in &vars {
        if let Some(value) = &v.value {
            if !matches!(v.name.as_str(), "workflow" | "namespace" | "data") {
                values = values.with_local(&v.name, value);
            }
        }
    }
    vars.iter()
        .filter_map(|v| {
            let raw = v.value.as_ref()?;
            let text = raw
                .replace("${workflow.name}", "${workflow}")
                .replace("$workflow.name", "${workflow}");
            let value = interpolate(&text, &values, Strictness::Lenient).unwrap_or(text);
            Some((v.container_name().to_string(), value))
        })
        .collect()
}

/// A number of seconds from a variable's text (`5`, `0.5`); `None` when absent, negative or not a number.
pub fn seconds(environment: &IndexMap<String, String>, name: &str) -> Option<f64> {
    let value: f64 = environment.get(name)?.trim().parse().ok()?;
    (value.is_finite() && value >= 0.0).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vamp_core::dsl;
    use vamp_core::model::{Artifact, Kind};

    fn workflow(text: &str) -> Workflow {
        match dsl::read(Kind::Workflow, text).unwrap() {
            Artifact::Workflow(w) => w,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_workflow_overrides_the_breed_and_references_resolve() {
        let w = workflow(
            "name: tick\nbreed:\n  name: ticker\n  deployable: {type: application/javascript, definition: x}\n  \
             constants: {REGION: eu}\n  environment_variables:\n    WHO: nobody\n    TAG: $workflow.name-${namespace}-$REGION\n    \
             DATA: $data\nschedule: daemon\nenvironment_variables:\n  WHO: $workflow\n",
        );
        let Some(breed) = w.breed.inline().cloned() else {
            panic!("inline breed")
        };
        let event = serde_json::json!({"tags": ["a"]});
        let env = workflow_environment(&w, &breed, "prod", Some(&event));
        assert_eq!(env["WHO"], "tick");
        assert_eq!(env["TAG"], "tick-prod-eu");
        assert_eq!(env["DATA"], encoded_data(&event));
        let env = workflow_environment(&w, &breed, "prod", None);
        assert_eq!(env["DATA"], "");
    }

    #[test]
    fn seconds_are_read_leniently() {
        let env: IndexMap<String, String> = [("A", "5"), ("B", "0.25"), ("C", "-1"), ("D", "soon")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(seconds(&env, "A"), Some(5.0));
        assert_eq!(seconds(&env, "B"), Some(0.25));
        assert_eq!(seconds(&env, "C"), None);
        assert_eq!(seconds(&env, "D"), None);
        assert_eq!(seconds(&env, "E"), None);
    }
}
