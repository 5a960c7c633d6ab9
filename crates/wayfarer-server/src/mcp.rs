//! MCP (DESIGN §5): every analysis of the query API as a tool an AI
//! assistant can call — over stdio (`wayfarer mcp`) and Streamable HTTP
//! (`POST /mcp` on the server, a read token). A tool's input schema is
//! generated from the same flag definitions as the CLI and the OpenAPI
//! document ([`crate::openapi::param_schema`]); a call runs the same
//! command through the same runner, under the same timeout, and answers
//! with exactly the JSON `wayfarer <command> --json` prints. The
//! descriptions are written for a model: what each tool answers and what
//! its fields mean.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool, ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};

use crate::exec::Executor;
use crate::query::{QueryApi, QueryCommand};

/// One tool: its name (the command's, `segments list` as
/// `segments_list`), the command it runs, what it is for, its input.
#[derive(Debug, Clone)]
pub struct ToolDef {
    pub name: String,
    pub command: String,
    pub description: String,
    pub input_schema: Map<String, Value>,
}

/// The tools and what runs them.
#[derive(Clone)]
pub struct Tools {
    api: QueryApi,
    exec: Arc<Executor>,
    tools: Arc<Vec<ToolDef>>,
}

impl std::fmt::Debug for Tools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tools").field("tools", &self.tools.len()).finish_non_exhaustive()
    }
}

/// What each command answers, for a model choosing a tool.
fn guidance(command: &str) -> &'static str {
    match command {
        "map" => {
            "The customer journey map: for each stage (Awareness → Advocacy) and persona, the customers who \
             reached it, conversion to the next stage, time to it, touchpoints and channels used, emotion \
             (NPS/CSAT/CES and text sentiment), pain points with the numbers that prove them, and \
             opportunities. Start here for 'where do customers get stuck'. Narrow with persona, segment, \
             from/to."
        }
        "funnel" => {
            "Conversion through ordered steps (event names, globs or stage:NAME) within a window, with \
             ClickHouse windowFunnel semantics: level_counts[i] = customers who reached step i+1; \
             conversion per step, median time between steps, drop-offs (and the segment condition that \
             holds each step's drop-offs). Use for 'how many go from A to B'."
        }
        "paths" => {
            "Customer paths. Default: the most frequent consecutive transitions and top paths (from_event / \
             to_event window them). match=PATTERN: who did what a path pattern says ('A -> B', 'A => B', \
             '[^C]*', '$' for the end) and what came right after and before. graph=true: the transition \
             graph (per edge: transitions, customers, P(next|from), P(prev|to), median and p95 seconds); \
             with compare/vs (persona:NAME, segment:NAME, FROM..TO) the groups' edges are tested \
             (two-proportion z-test, Benjamini–Hochberg q < 0.05 = significant). step_matrix=true: the \
             share of customers with each event at each step (anchor=EVENT centres it)."
        }
        "retention" => {
            "Cohort retention: customers grouped by the period of their first event, the share active in \
             each later period, plus lifecycle (new, returning, resurrecting, dormant) and churn per period."
        }
        "sessions" => {
            "Sessions (a gap over 30 minutes starts a new one): counts, bounces, engaged sessions, durations."
        }
        "rfm" => "Per-customer recency, frequency, monetary value and tenure as BG/NBD defines them.",
        "surveys" => {
            "NPS (with its margin of error), CSAT, CES and comment sentiment, by stage, touchpoint, persona, \
             channel and period."
        }
        "clv" => {
            "Customer lifetime value: historic, and predicted with BG/NBD and Gamma-Gamma (expected \
             purchases, P(alive), expected value), by customer and persona."
        }
        "personas" => {
            "Personas discovered by clustering behaviour (k-means++, k by silhouette): each cluster's size \
             and what sets it apart."
        }
        "attribution" => {
            "Multi-touch attribution of conversions to channels: first/last touch, linear, time decay, \
             position based, Markov removal effect and Shapley values."
        }
        "discovery" => {
            "Which first touchpoints, first channels and first content (campaign or page) bring customers \
             who go on to buy: per source the customers brought, conversion to a purchase with its 95 % \
             interval, median days to the first purchase, the buyers' predicted 12-month CLV, and the value \
             per customer brought (sorted by it). Use for 'where do our best customers come from'."
        }
        "loyalty" => {
            "Loyalty actions (a converted referral, a review, a repeat order, an upgrade, or action=NAME=EVENT): \
             the share of customers who reach each, by persona, and the last events before the first time \
             against the journeys' ends of those who never did (lift = share among reachers / among others)."
        }
        "customers" => {
            "One customer (by user id or anonymous id): identities, traits, current stage, persona, \
             purchases, revenue, channels and timeline — the customer's profile."
        }
        "doctor" => {
            "How well the configuration fits the data: event names no stage rule knows, rules matching \
             nothing, stages nobody reaches, thin data. Use when an answer looks empty or wrong."
        }
        "nba" => {
            "Next-best-action: which channel moves customers of a stage (and persona) on to the next stage, \
             with the evidence; for one customer, the best action they have not had."
        }
        "recommend" => {
            "Product recommendations for a customer (co-occurrence, EASE), or their evaluation against popularity."
        }
        "segments list" => "The saved segments with their conditions and sizes.",
        "segments show" => "One saved segment: its condition, size, and the stages of its members.",
        "segments members" => "The customers of a saved segment (ids, with email and phone when known).",
        _ => "",
    }
}

impl Tools {
    /// The tools of the query API's commands and the runner's others
    /// (`segments list`…).
    pub fn new(api: QueryApi, exec: Arc<Executor>) -> Tools {
        let tools = api
            .commands
            .iter()
            .chain(&api.more)
            .map(|c| ToolDef {
                name: c.name.replace(' ', "_"),
                command: c.name.clone(),
                description: {
                    let g = guidance(&c.name);
                    let summary = c.summary.trim();
                    let base = if g.is_empty() { summary.to_string() } else { g.to_string() };
                    format!("{base} Returns the JSON of `wayfarer {} --json`.", c.name)
                },
                input_schema: input_schema(c),
            })
            .collect();
        Tools { api, exec, tools: Arc::new(tools) }
    }

    pub fn list(&self) -> &[ToolDef] {
        &self.tools
    }

    /// Runs a tool with its arguments: the command's JSON, or an error
    /// that names the problem (an unknown tool or argument with the
    /// closest, a wrong type, the command's own error).
    pub async fn call(&self, name: &str, args: &Map<String, Value>) -> Result<Value, String> {
        let Some(tool) = self.tools.iter().find(|t| t.name == name) else {
            let names: Vec<&str> = self.tools.iter().map(|t| t.name.as_str()).collect();
            return Err(format!("no tool '{name}'{}", wayfarer_core::suggest::hint(name, &names)));
        };
        let params = parameters(tool, args)?;
        let run = self.api.run.clone();
        let cmd = tool.command.clone();
        self.exec.run(self.api.timeout, move |job| run(&cmd, &params, job)).await.and_then(|r| r).map_err(|e| e.message)
    }
}

/// The MCP server: [`Tools`] behind rmcp's handler.
#[derive(Debug, Clone)]
pub struct Handler(pub Tools);

/// What the server tells a model about itself.
const INSTRUCTIONS: &str = "Wayfarer: customer-journey analytics over one company's events (web and app \
analytics, campaigns, email, support, purchases, surveys). Every tool is read-only and returns JSON. Start \
with `map` (stages, pain points, opportunities) or `doctor` (how the configuration fits the data); names of \
events, personas, segments and stages must exist in the data — an error names the closest. Customers are \
counted once each; shares are fractions (0.25 = 25 %).";

impl Handler {
    fn tool(d: &ToolDef) -> Tool {
        Tool::new(d.name.clone(), d.description.clone(), Arc::new(d.input_schema.clone()))
            .with_annotations(ToolAnnotations::new().read_only(true).idempotent(true).open_world(false))
    }
}

impl ServerHandler for Handler {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("wayfarer", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.0.list().iter().map(Handler::tool).collect()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.0.list().iter().find(|t| t.name == name).map(Handler::tool)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let args = request.arguments.unwrap_or_default();
        Ok(match self.0.call(&request.name, &args).await {
            Ok(json) => CallToolResult::structured(json),
            // A tool's failure is its answer (the model reads the reason).
            Err(e) => CallToolResult::error(vec![ContentBlock::text(e)]),
        }
        .into())
    }
}

/// Serves the tools over stdin and stdout until the client closes stdin.
pub async fn serve_stdio(tools: Tools) -> Result<(), String> {
    let running = Handler(tools).serve(rmcp::transport::stdio()).await.map_err(|e| e.to_string())?;
    running.waiting().await.map_err(|e| e.to_string())?;
    Ok(())
}

/// `/mcp`: the tools over Streamable HTTP (the caller checks the token).
pub fn http_service(
    tools: Tools,
) -> rmcp::transport::streamable_http_server::StreamableHttpService<
    Handler,
    rmcp::transport::streamable_http_server::session::local::LocalSessionManager,
> {
    use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
    let handler = Handler(tools);
    StreamableHttpService::new(
        move || Ok(handler.clone()),
        Arc::new(rmcp::transport::streamable_http_server::session::local::LocalSessionManager::default()),
        StreamableHttpServerConfig::default(),
    )
}

/// A command's input schema: an object with one property per flag.
pub fn input_schema(c: &QueryCommand) -> Map<String, Value> {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for p in &c.params {
        let mut schema = crate::openapi::param_schema(p);
        if let Value::Object(o) = &mut schema {
            o.insert("description".into(), json!(p.help));
        }
        properties.insert(p.name.replace('-', "_"), schema);
        if p.required {
            required.push(json!(p.name.replace('-', "_")));
        }
    }
    let mut schema = Map::new();
    schema.insert("type".into(), json!("object"));
    schema.insert("properties".into(), Value::Object(properties));
    if !required.is_empty() {
        schema.insert("required".into(), Value::Array(required));
    }
    schema.insert("additionalProperties".into(), json!(false));
    schema
}

/// A tool's arguments as the command's query parameters (arrays become
/// repeated parameters, switches `true`/`false`).
fn parameters(tool: &ToolDef, args: &Map<String, Value>) -> Result<Vec<(String, String)>, String> {
    let known: Vec<&str> = tool
        .input_schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let mut out = Vec::new();
    for (key, value) in args {
        if !known.contains(&key.as_str()) {
            return Err(format!(
                "{}: no argument '{key}'{} (arguments: {})",
                tool.name,
                wayfarer_core::suggest::hint(key, &known),
                known.join(", ")
            ));
        }
        let one = |v: &Value| -> Result<String, String> {
            match v {
                Value::String(s) => Ok(s.clone()),
                Value::Bool(b) => Ok(b.to_string()),
                Value::Number(n) => Ok(n.to_string()),
                other => {
                    Err(format!("{}: argument '{key}' must be a string, number or boolean, not {other}", tool.name))
                }
            }
        };
        match value {
            Value::Null => {}
            Value::Array(items) => {
                for v in items {
                    out.push((key.clone(), one(v)?));
                }
            }
            v => out.push((key.clone(), one(v)?)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::{ParamKind, QueryParam};

    fn command() -> QueryCommand {
        let p = |name: &str, kind, required, repeated| QueryParam {
            name: name.into(),
            help: format!("the {name}"),
            required,
            repeated,
            flag: kind == ParamKind::Switch,
            kind,
            values: Vec::new(),
            default: None,
        };
        QueryCommand {
            name: "funnel".into(),
            summary: "Funnel conversion.".into(),
            params: vec![
                p("step", ParamKind::Event, true, true),
                p("window", ParamKind::Text, false, false),
                p("strict-order", ParamKind::Switch, false, false),
            ],
        }
    }

    #[test]
    fn schemas_and_arguments_follow_the_flags() {
        let c = command();
        let s = input_schema(&c);
        assert_eq!(s["properties"]["step"]["type"], "array");
        assert_eq!(s["properties"]["strict_order"]["type"], "boolean");
        assert_eq!(s["required"], json!(["step"]));
        let tool =
            ToolDef { name: "funnel".into(), command: "funnel".into(), description: String::new(), input_schema: s };
        let args = json!({"step": ["A", "B"], "window": "7d", "strict_order": true});
        let p = parameters(&tool, args.as_object().unwrap()).unwrap();
        let want: Vec<(String, String)> = [("step", "A"), ("step", "B"), ("strict_order", "true"), ("window", "7d")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut got = p;
        got.sort();
        assert_eq!(got, want);
        let e = parameters(&tool, json!({"windw": "7d"}).as_object().unwrap()).unwrap_err();
        assert!(e.contains("no argument 'windw'") && e.contains("did you mean 'window'"), "{e}");
        let e = parameters(&tool, json!({"window": {"x": 1}}).as_object().unwrap()).unwrap_err();
        assert!(e.contains("must be a string"), "{e}");
    }
}
