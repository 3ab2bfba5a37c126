//! BPMN 2.0 XML in and out, for the subset a service's order uses: tasks (user, service,
//! manual …), parallel and exclusive gateways, conditional sequence flows, start and end
//! events, lanes, and non-interrupting timer boundary events for deadlines — so that a
//! definition opens in common modelers (bpmn-js, Camunda Modeler) and comes back.
//!
//! A task's department is its `shuniu:department` attribute, else the organization code its
//! lane's name ends with; its deadline is the timer boundary event attached to it (`P5D`: five
//! working days; `P1W`: five). Gateways and events are folded into the steps' `after` lists: a
//! task waits for every task that reaches it through gateways (a parallel join), and a
//! condition on the flow into a task becomes its `when`. Anything else (sub-processes,
//! message events, loops, inclusive gateways) is refused by name: a definition never silently
//! loses part of a process.
//!
//! Export lays the steps out left to right by depth and writes the diagram (BPMN DI), so a
//! modeler draws it as the console does.

use std::collections::{BTreeMap, BTreeSet};

use quick_xml::XmlVersion;
use quick_xml::escape::escape;
use quick_xml::events::{BytesStart, Event};

use crate::definition::{ServiceDefinition, Step};
use crate::error::{CasesError, bpmn};

/// The namespace of the hub's attributes (`shuniu:department`, `shuniu:handler`).
pub const SHUNIU_NS: &str = "urn:shuniu:bpmn:1";

#[derive(Debug, Default)]
struct Node {
    kind: String,
    name: String,
    attrs: BTreeMap<String, String>,
}

#[derive(Debug)]
struct Flow {
    source: String,
    target: String,
    condition: Option<String>,
}

const TASKS: [&str; 8] = [
    "task",
    "userTask",
    "serviceTask",
    "manualTask",
    "sendTask",
    "receiveTask",
    "businessRuleTask",
    "scriptTask",
];
const PASSING: [&str; 4] = [
    "startEvent",
    "endEvent",
    "parallelGateway",
    "exclusiveGateway",
];
/// Elements inside a process that carry no order of their own.
const IGNORED: [&str; 9] = [
    "documentation",
    "extensionElements",
    "incoming",
    "outgoing",
    "laneSet",
    "textAnnotation",
    "association",
    "text",
    "dataObjectReference",
];

fn local(name: &str) -> String {
    match name.rsplit_once(':') {
        Some((_, l)) => l.to_string(),
        None => name.to_string(),
    }
}

fn attrs(e: &BytesStart<'_>) -> BTreeMap<String, String> {
    e.attributes()
        .flatten()
        .map(|a| {
            let key = a.key.as_ref().to_string();
            let value = a
                .normalized_value(XmlVersion::Implicit1_0)
                .map(|v| v.to_string())
                .unwrap_or_default();
            // `shuniu:department` and `department` alike; BPMN's own attributes have no prefix.
            let key = match key.split_once(':') {
                Some(("xmlns", _)) => key,
                Some((_, l)) => l.to_string(),
                None => key,
            };
            (key, value)
        })
        .collect()
}

/// Working days of an ISO 8601 duration of days or weeks.
fn working_days(text: &str) -> Option<u32> {
    let t = text.trim().to_ascii_uppercase();
    let t = t.strip_prefix('P')?;
    if let Some(d) = t.strip_suffix('D') {
        return d.parse().ok().filter(|n| *n > 0);
    }
    if let Some(w) = t.strip_suffix('W') {
        return w.parse::<u32>().ok().filter(|n| *n > 0).map(|n| n * 5);
    }
    None
}

/// The organization code a lane's name ends with (`青岛市公安局 370200GA`), else the name.
fn lane_department(name: &str) -> String {
    let name = name.trim();
    let tail = name
        .rsplit(|c: char| c.is_whitespace() || matches!(c, '(' | '（'))
        .next()
        .unwrap_or(name)
        .trim_end_matches([')', '）']);
    if !tail.is_empty() && tail.chars().all(|c| c.is_ascii_alphanumeric()) {
        tail.to_string()
    } else {
        name.to_string()
    }
}

/// Reads the steps of a BPMN 2.0 process (the first process in the document). Each task
/// becomes a step; see the module's notes for what maps to what.
pub fn import(xml: &str) -> Result<Vec<Step>, CasesError> {
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().trim_text(false);
    let mut nodes: BTreeMap<String, Node> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut flows: BTreeMap<String, Flow> = BTreeMap::new();
    let mut lanes: BTreeMap<String, String> = BTreeMap::new();
    let mut timers: BTreeMap<String, u32> = BTreeMap::new();
    let mut unsupported: BTreeSet<String> = BTreeSet::new();
    // Where the reader is: the open elements' local names and ids.
    let mut stack: Vec<(String, BTreeMap<String, String>)> = Vec::new();
    let mut in_process = 0usize;
    let mut processes = 0;
    let mut text = String::new();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| bpmn(format!("XML 无法解析：{e}"), format!("not XML: {e}")))?;
        let (start, empty) = match &event {
            Event::Start(e) => (Some(e.clone()), false),
            Event::Empty(e) => (Some(e.clone()), true),
            _ => (None, false),
        };
        if let Some(e) = start {
            let name = local(e.name().as_ref());
            let a = attrs(&e);
            if name == "process" {
                processes += 1;
                if processes > 1 {
                    // Collaborations with several pools: only the first process is read.
                    in_process = 0;
                }
            }
            let inside = in_process > 0 && processes == 1;
            let parent = stack.last().map(|(n, _)| n.as_str()).unwrap_or("");
            if inside && parent == "process" {
                let id = a.get("id").cloned().unwrap_or_default();
                if TASKS.contains(&name.as_str()) || PASSING.contains(&name.as_str()) {
                    order.push(id.clone());
                    nodes.insert(
                        id,
                        Node {
                            kind: name.clone(),
                            name: a.get("name").cloned().unwrap_or_default(),
                            attrs: a.clone(),
                        },
                    );
                } else if name == "sequenceFlow" {
                    flows.insert(
                        id,
                        Flow {
                            source: a.get("sourceRef").cloned().unwrap_or_default(),
                            target: a.get("targetRef").cloned().unwrap_or_default(),
                            condition: None,
                        },
                    );
                } else if name == "boundaryEvent" {
                    // Its timer is read below, from its children.
                } else if !IGNORED.contains(&name.as_str()) {
                    unsupported.insert(name.clone());
                }
            } else if inside && name == "timerEventDefinition" {
                if !stack.iter().any(|(n, _)| n == "boundaryEvent") {
                    unsupported.insert("timer (not on a task)".into());
                }
            } else if inside
                && matches!(
                    name.as_str(),
                    "messageEventDefinition"
                        | "signalEventDefinition"
                        | "errorEventDefinition"
                        | "escalationEventDefinition"
                        | "conditionalEventDefinition"
                        | "standardLoopCharacteristics"
                        | "multiInstanceLoopCharacteristics"
                )
            {
                unsupported.insert(name.clone());
            }
            if name == "process" && processes == 1 {
                in_process = 1;
            }
            if !empty {
                stack.push((name, a));
                text.clear();
            } else if name == "process" {
                in_process = 0;
            }
            continue;
        }
        match event {
            Event::Text(t) => {
                text.push_str(&t.xml_content(XmlVersion::Implicit1_0));
            }
            Event::CData(t) => text.push_str(t.as_ref()),
            Event::GeneralRef(r) => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    text.push(c);
                    continue;
                }
                let name: &str = r.as_ref();
                text.push_str(match name {
                    "lt" => "<",
                    "gt" => ">",
                    "amp" => "&",
                    "quot" => "\"",
                    "apos" => "'",
                    _ => "",
                });
            }
            Event::End(_) => {
                let Some((name, _)) = stack.pop() else {
                    continue;
                };
                let inside = in_process > 0;
                let body = std::mem::take(&mut text).trim().to_string();
                if inside && name == "conditionExpression" {
                    if let Some((_, flow)) = stack.iter().rev().find(|(n, _)| n == "sequenceFlow")
                        && let Some(f) = flow.get("id").and_then(|id| flows.get_mut(id))
                    {
                        f.condition = Some(body);
                    }
                } else if inside && name == "timeDuration" {
                    if let Some((_, b)) = stack.iter().rev().find(|(n, _)| n == "boundaryEvent") {
                        let task = b.get("attachedToRef").cloned().unwrap_or_default();
                        let days = working_days(&body).ok_or_else(|| {
                            bpmn(
                                format!("时限“{body}”应为工作日数，如 P5D"),
                                format!(
                                    "the timer {body:?} is not a number of working days such as P5D"
                                ),
                            )
                        })?;
                        timers.insert(task, days);
                    }
                } else if inside && name == "flowNodeRef" {
                    if let Some((_, lane)) = stack.iter().rev().find(|(n, _)| n == "lane") {
                        lanes.insert(body, lane.get("name").cloned().unwrap_or_default());
                    }
                } else if name == "process" {
                    in_process = 0;
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if processes == 0 {
        return Err(bpmn("没有流程（process）", "there is no process"));
    }
    if !unsupported.is_empty() {
        let list = unsupported.into_iter().collect::<Vec<_>>().join(", ");
        return Err(bpmn(
            format!("包含不支持的元素：{list}"),
            format!("uses elements the hub does not run: {list}"),
        ));
    }
    for (id, f) in &flows {
        for end in [&f.source, &f.target] {
            if !nodes.contains_key(end) {
                return Err(bpmn(
                    format!("连线 {id} 指向不存在的节点 {end}"),
                    format!("the flow {id} names a node {end} that does not exist"),
                ));
            }
        }
    }
    let incoming =
        |node: &str| -> Vec<&Flow> { flows.values().filter(|f| f.target == node).collect() };
    let mut steps = Vec::new();
    for id in &order {
        let node = &nodes[id];
        if !TASKS.contains(&node.kind.as_str()) {
            continue;
        }
        // Every task reaching this one through gateways and events.
        let mut after: BTreeSet<String> = BTreeSet::new();
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        let mut queue: Vec<&str> = incoming(id).iter().map(|f| f.source.as_str()).collect();
        while let Some(n) = queue.pop() {
            if !seen.insert(n) {
                continue;
            }
            match nodes.get(n) {
                Some(m) if TASKS.contains(&m.kind.as_str()) => {
                    after.insert(n.to_string());
                }
                Some(_) => queue.extend(incoming(n).iter().map(|f| f.source.as_str())),
                None => {}
            }
        }
        let when = incoming(id).iter().find_map(|f| f.condition.clone());
        let department = node
            .attrs
            .get("department")
            .cloned()
            .or_else(|| lanes.get(id).map(|l| lane_department(l)))
            .unwrap_or_default();
        if department.is_empty() {
            return Err(bpmn(
                format!(
                    "任务“{}”（{id}）没有办理部门：请设置 shuniu:department 属性或放入以部门命名的泳道",
                    node.name
                ),
                format!(
                    "the task {:?} ({id}) has no department: set shuniu:department or put it in a lane named after one",
                    node.name
                ),
            ));
        }
        let deadline_days = match timers.get(id) {
            Some(d) => *d,
            None => node
                .attrs
                .get("deadlineDays")
                .and_then(|d| d.parse().ok())
                .ok_or_else(|| {
                    bpmn(
                        format!("任务“{}”（{id}）没有时限：请附加计时边界事件（如 P5D）", node.name),
                        format!("the task {:?} ({id}) has no deadline: attach a timer boundary event (P5D)", node.name),
                    )
                })?,
        };
        steps.push(Step {
            id: id.clone(),
            name: if node.name.is_empty() {
                id.clone()
            } else {
                node.name.clone()
            },
            department,
            after: after.into_iter().collect(),
            when,
            deadline_days,
            automatic: node.attrs.get("handler").cloned(),
            compensation: node.attrs.get("compensation").cloned(),
            materials: node
                .attrs
                .get("materials")
                .map(|m| {
                    m.split([',', ' '])
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default(),
            // `shuniu:issues="TYPE"` (the applicant's) or `"TYPE decision"`.
            issues: node.attrs.get("issues").and_then(|v| {
                let mut parts = v.split_whitespace();
                let licence_type = parts.next()?.to_string();
                Some(crate::definition::Issue {
                    licence_type,
                    holder: if parts.next() == Some("decision") {
                        crate::definition::ResultHolder::Decision
                    } else {
                        crate::definition::ResultHolder::Applicant
                    },
                })
            }),
        });
    }
    Ok(steps)
}

const TASK_W: i64 = 120;
const TASK_H: i64 = 80;
const GATE: i64 = 50;
const EVENT: i64 = 36;
const COL: i64 = 230;
const ROW: i64 = 130;

struct Shape {
    id: String,
    x: i64,
    y: i64,
    w: i64,
    h: i64,
}

/// The definition's steps as a BPMN 2.0 document with its diagram: a start event, a parallel
/// gateway wherever several steps start or join (ids as modelers name them: `StartEvent_1`,
/// `Gateway_…`; `Start` and `End` are reserved by some engines), conditional flows for steps with `when`, a
/// non-interrupting timer on each task for its deadline, and an end event.
pub fn export(d: &ServiceDefinition) -> String {
    let depths = d.depths();
    let e = |s: &str| escape(s).to_string();
    let mut process = String::new();
    let mut shapes: Vec<Shape> = Vec::new();
    let mut edges: Vec<(String, String, String)> = Vec::new();
    let mut flow_n = 0;
    let mut flow = |process: &mut String, from: &str, to: &str, condition: Option<&str>| {
        flow_n += 1;
        let id = format!("Flow_{flow_n}");
        match condition {
            Some(c) => process.push_str(&format!(
                "    <bpmn:sequenceFlow id=\"{id}\" sourceRef=\"{from}\" targetRef=\"{to}\"><bpmn:conditionExpression xsi:type=\"bpmn:tFormalExpression\">{}</bpmn:conditionExpression></bpmn:sequenceFlow>\n",
                e(c)
            )),
            None => process.push_str(&format!(
                "    <bpmn:sequenceFlow id=\"{id}\" sourceRef=\"{from}\" targetRef=\"{to}\" />\n"
            )),
        }
        (id, from.to_string(), to.to_string())
    };
    // Rows within each depth column.
    let mut rows: BTreeMap<usize, i64> = BTreeMap::new();
    let mut place: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let max_depth = depths.values().copied().max().unwrap_or(0);
    for s in d.order().unwrap_or_default() {
        let depth = depths.get(s.id.as_str()).copied().unwrap_or(0);
        let row = rows.entry(depth).or_insert(0);
        // Each column leaves room for a join gateway before it.
        let x = 200 + depth as i64 * COL + 70;
        let y = 80 + *row * ROW;
        *row += 1;
        place.insert(s.id.clone(), (x, y));
    }
    let mid_y = 80 + (rows.values().copied().max().unwrap_or(1) - 1) * ROW / 2 + TASK_H / 2;
    process.push_str("    <bpmn:startEvent id=\"StartEvent_1\" name=\"受理\" />\n");
    shapes.push(Shape {
        id: "StartEvent_1".into(),
        x: 60,
        y: mid_y - EVENT / 2,
        w: EVENT,
        h: EVENT,
    });
    let roots: Vec<&Step> = d.steps.iter().filter(|s| s.after.is_empty()).collect();
    let start_from = if roots.len() > 1 {
        process.push_str("    <bpmn:parallelGateway id=\"Gateway_Fork\" />\n");
        shapes.push(Shape {
            id: "Gateway_Fork".into(),
            x: 130,
            y: mid_y - GATE / 2,
            w: GATE,
            h: GATE,
        });
        edges.push(flow(&mut process, "StartEvent_1", "Gateway_Fork", None));
        "Gateway_Fork"
    } else {
        "StartEvent_1"
    };
    for s in d.order().unwrap_or_default() {
        let (x, y) = place[&s.id];
        let kind = if s.automatic.is_some() {
            "serviceTask"
        } else {
            "userTask"
        };
        let mut extra = format!(" shuniu:department=\"{}\"", e(&s.department));
        if let Some(h) = &s.automatic {
            extra.push_str(&format!(" shuniu:handler=\"{}\"", e(h)));
        }
        if let Some(c) = &s.compensation {
            extra.push_str(&format!(" shuniu:compensation=\"{}\"", e(c)));
        }
        if let Some(i) = &s.issues {
            let holder = match i.holder {
                crate::definition::ResultHolder::Applicant => "",
                crate::definition::ResultHolder::Decision => " decision",
            };
            extra.push_str(&format!(
                " shuniu:issues=\"{}{holder}\"",
                e(&i.licence_type)
            ));
        }
        if !s.materials.is_empty() {
            extra.push_str(&format!(
                " shuniu:materials=\"{}\"",
                e(&s.materials.join(","))
            ));
        }
        process.push_str(&format!(
            "    <bpmn:{kind} id=\"{}\" name=\"{}\"{extra} />\n",
            e(&s.id),
            e(&s.name)
        ));
        process.push_str(&format!(
            "    <bpmn:boundaryEvent id=\"Timer_{id}\" name=\"{days} 个工作日\" attachedToRef=\"{id}\" cancelActivity=\"false\"><bpmn:timerEventDefinition><bpmn:timeDuration xsi:type=\"bpmn:tFormalExpression\">P{days}D</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>\n",
            id = e(&s.id),
            days = s.deadline_days
        ));
        shapes.push(Shape {
            id: s.id.clone(),
            x,
            y,
            w: TASK_W,
            h: TASK_H,
        });
        shapes.push(Shape {
            id: format!("Timer_{}", s.id),
            x: x + TASK_W - EVENT / 2 - 10,
            y: y + TASK_H - EVENT / 2,
            w: EVENT,
            h: EVENT,
        });
        let from = match s.after.len() {
            0 => start_from.to_string(),
            1 => s.after[0].clone(),
            _ => {
                let join = format!("Gateway_Join_{}", s.id);
                process.push_str(&format!(
                    "    <bpmn:parallelGateway id=\"{}\" />\n",
                    e(&join)
                ));
                shapes.push(Shape {
                    id: join.clone(),
                    x: x - 70,
                    y: y + TASK_H / 2 - GATE / 2,
                    w: GATE,
                    h: GATE,
                });
                for a in &s.after {
                    edges.push(flow(&mut process, a, &join, None));
                }
                join
            }
        };
        edges.push(flow(&mut process, &from, &s.id, s.when.as_deref()));
    }
    let leaves: Vec<&Step> = d
        .steps
        .iter()
        .filter(|s| !d.steps.iter().any(|t| t.after.contains(&s.id)))
        .collect();
    let end_x = 200 + (max_depth as i64 + 1) * COL + 70;
    let to_end = if leaves.len() > 1 {
        process.push_str("    <bpmn:parallelGateway id=\"Gateway_JoinEnd\" />\n");
        shapes.push(Shape {
            id: "Gateway_JoinEnd".into(),
            x: end_x - 20,
            y: mid_y - GATE / 2,
            w: GATE,
            h: GATE,
        });
        for l in &leaves {
            edges.push(flow(&mut process, &l.id, "Gateway_JoinEnd", None));
        }
        "Gateway_JoinEnd".to_string()
    } else {
        leaves
            .first()
            .map(|l| l.id.clone())
            .unwrap_or_else(|| "StartEvent_1".into())
    };
    process.push_str("    <bpmn:endEvent id=\"EndEvent_1\" name=\"办结\" />\n");
    shapes.push(Shape {
        id: "EndEvent_1".into(),
        x: end_x + 70,
        y: mid_y - EVENT / 2,
        w: EVENT,
        h: EVENT,
    });
    edges.push(flow(&mut process, &to_end, "EndEvent_1", None));
    let by_id: BTreeMap<&str, &Shape> = shapes.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut di = String::new();
    for s in &shapes {
        di.push_str(&format!(
            "      <bpmndi:BPMNShape id=\"{id}_di\" bpmnElement=\"{id}\"><dc:Bounds x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" /></bpmndi:BPMNShape>\n",
            s.x,
            s.y,
            s.w,
            s.h,
            id = e(&s.id)
        ));
    }
    for (id, from, to) in &edges {
        let (Some(a), Some(b)) = (by_id.get(from.as_str()), by_id.get(to.as_str())) else {
            continue;
        };
        let (x1, y1) = (a.x + a.w, a.y + a.h / 2);
        let (x2, y2) = (b.x, b.y + b.h / 2);
        let mx = (x1 + x2) / 2;
        di.push_str(&format!(
            "      <bpmndi:BPMNEdge id=\"{id}_di\" bpmnElement=\"{id}\"><di:waypoint x=\"{x1}\" y=\"{y1}\" /><di:waypoint x=\"{mx}\" y=\"{y1}\" /><di:waypoint x=\"{mx}\" y=\"{y2}\" /><di:waypoint x=\"{x2}\" y=\"{y2}\" /></bpmndi:BPMNEdge>\n"
        ));
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<bpmn:definitions xmlns:bpmn=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" xmlns:bpmndi=\"http://www.omg.org/spec/BPMN/20100524/DI\" xmlns:dc=\"http://www.omg.org/spec/DD/20100524/DC\" xmlns:di=\"http://www.omg.org/spec/DD/20100524/DI\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:shuniu=\"{SHUNIU_NS}\" id=\"Definitions_{code}\" targetNamespace=\"{SHUNIU_NS}\" exporter=\"shuniu\">\n\
  <bpmn:process id=\"{code}\" name=\"{name}\" isExecutable=\"true\">\n{process}  </bpmn:process>\n\
  <bpmndi:BPMNDiagram id=\"Diagram_{code}\">\n    <bpmndi:BPMNPlane id=\"Plane_{code}\" bpmnElement=\"{code}\">\n{di}    </bpmndi:BPMNPlane>\n  </bpmndi:BPMNDiagram>\n\
</bpmn:definitions>\n",
        code = e(&d.code),
        name = e(&d.name),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::tests::birth;

    #[test]
    fn a_definition_survives_export_and_import() {
        let d = birth();
        let xml = export(&d);
        let steps = import(&xml).expect("import");
        assert_eq!(steps, d.steps, "{xml}");
    }

    #[test]
    fn lanes_gateways_and_timers_from_a_modeler_become_steps() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <process id="p" isExecutable="true">
    <laneSet>
      <lane id="l1" name="青岛市公安局 370200GA"><flowNodeRef>a</flowNodeRef></lane>
      <lane id="l2" name="青岛市人力资源和社会保障局（370200RS）"><flowNodeRef>b</flowNodeRef><flowNodeRef>c</flowNodeRef></lane>
    </laneSet>
    <startEvent id="s" />
    <task id="a" name="户籍注销" />
    <parallelGateway id="fork" />
    <exclusiveGateway id="x" />
    <userTask id="b" name="养老金停发" />
    <userTask id="c" name="丧葬补助" />
    <parallelGateway id="join" />
    <endEvent id="e" />
    <sequenceFlow id="f1" sourceRef="s" targetRef="a" />
    <sequenceFlow id="f2" sourceRef="a" targetRef="fork" />
    <sequenceFlow id="f3" sourceRef="fork" targetRef="b" />
    <sequenceFlow id="f4" sourceRef="fork" targetRef="x" />
    <sequenceFlow id="f5" sourceRef="x" targetRef="c"><conditionExpression>insured = &apos;是&apos;</conditionExpression></sequenceFlow>
    <sequenceFlow id="f6" sourceRef="b" targetRef="join" />
    <sequenceFlow id="f7" sourceRef="c" targetRef="join" />
    <sequenceFlow id="f8" sourceRef="join" targetRef="e" />
    <boundaryEvent id="t1" attachedToRef="a" cancelActivity="false"><timerEventDefinition><timeDuration>P5D</timeDuration></timerEventDefinition></boundaryEvent>
    <boundaryEvent id="t2" attachedToRef="b" cancelActivity="false"><timerEventDefinition><timeDuration>P3D</timeDuration></timerEventDefinition></boundaryEvent>
    <boundaryEvent id="t3" attachedToRef="c" cancelActivity="false"><timerEventDefinition><timeDuration>P2W</timeDuration></timerEventDefinition></boundaryEvent>
  </process>
</definitions>"#;
        let steps = import(xml).expect("import");
        type Seen<'a> = (&'a str, &'a str, Vec<&'a str>, Option<&'a str>, u32);
        let got: Vec<Seen> = steps
            .iter()
            .map(|s| {
                (
                    s.id.as_str(),
                    s.department.as_str(),
                    s.after.iter().map(String::as_str).collect(),
                    s.when.as_deref(),
                    s.deadline_days,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("a", "370200GA", vec![], None, 5),
                ("b", "370200RS", vec!["a"], None, 3),
                ("c", "370200RS", vec!["a"], Some("insured = '是'"), 10),
            ]
        );
    }

    #[test]
    fn what_the_hub_does_not_run_is_refused_by_name() {
        let xml = r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p">
            <startEvent id="s"><messageEventDefinition /></startEvent>
            <subProcess id="sp" />
            <task id="a" name="x" />
        </process></definitions>"#;
        let e = import(xml).unwrap_err();
        let CasesError::Bpmn { en, .. } = e else {
            panic!("{e:?}")
        };
        assert!(
            en.contains("subProcess") && en.contains("messageEventDefinition"),
            "{en}"
        );
        let no_deadline = r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:shuniu="urn:shuniu:bpmn:1"><process id="p">
            <task id="a" name="x" shuniu:department="370200GA" />
        </process></definitions>"#;
        assert!(matches!(import(no_deadline), Err(CasesError::Bpmn { .. })));
        assert!(matches!(import("<not-bpmn"), Err(CasesError::Bpmn { .. })));
    }
}
