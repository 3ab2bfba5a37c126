//! DCAT-AP 3.0.1 metadata of the open catalog: the catalog (paged with Hydra, as
//! ckanext-dcat does), each dataset and its distributions (one per download format), the
//! publishing departments as agents, themes as a SKOS concept scheme. Serialized by oxrdfio
//! as Turtle, JSON-LD or RDF/XML from one graph.
//!
//! Every object that a DCAT-AP range expects to be of a class carries its `rdf:type`, so the
//! output validates without loading the EU vocabularies.

use chrono::{DateTime, Utc};
use oxrdf::vocab::{rdf, xsd};
use oxrdf::{BlankNode, Literal, NamedNode, NamedOrBlankNode, Term, Triple};
use oxrdfio::{RdfFormat, RdfSerializer};
use shuniu_policy::open::OpenAccess;
use shuniu_types::UpdateCycle;

use crate::error::{OpenError, Result};
use crate::packages::{FORMATS, Package};
use crate::snapshot::Snapshot;

const DCAT: &str = "http://www.w3.org/ns/dcat#";
const DCT: &str = "http://purl.org/dc/terms/";
const FOAF: &str = "http://xmlns.com/foaf/0.1/";
const SKOS: &str = "http://www.w3.org/2004/02/skos/core#";
const VCARD: &str = "http://www.w3.org/2006/vcard/ns#";
const HYDRA: &str = "http://www.w3.org/ns/hydra/core#";
const ADMS: &str = "http://www.w3.org/ns/adms#";
const EU: &str = "http://publications.europa.eu/resource/authority/";

/// An RDF serialization the portal offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RdfKind {
    Turtle,
    JsonLd,
    RdfXml,
}

impl RdfKind {
    pub fn parse(ext: &str) -> Option<RdfKind> {
        Some(match ext {
            "ttl" => RdfKind::Turtle,
            "jsonld" => RdfKind::JsonLd,
            "rdf" | "xml" => RdfKind::RdfXml,
            _ => return None,
        })
    }

    pub fn ext(self) -> &'static str {
        match self {
            RdfKind::Turtle => "ttl",
            RdfKind::JsonLd => "jsonld",
            RdfKind::RdfXml => "rdf",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            RdfKind::Turtle => "text/turtle; charset=utf-8",
            RdfKind::JsonLd => "application/ld+json",
            RdfKind::RdfXml => "application/rdf+xml",
        }
    }

    fn format(self) -> RdfFormat {
        match self {
            RdfKind::Turtle => RdfFormat::Turtle,
            RdfKind::JsonLd => RdfFormat::JsonLd {
                profile: Default::default(),
            },
            RdfKind::RdfXml => RdfFormat::RdfXml,
        }
    }
}

struct Graph {
    triples: Vec<Triple>,
}

fn iri(s: &str) -> Result<NamedNode> {
    NamedNode::new(s).map_err(|e| OpenError::Index(format!("IRI {s}: {e}")))
}

fn zh(s: &str) -> Term {
    Literal::new_language_tagged_literal_unchecked(s, "zh").into()
}

fn time(t: &DateTime<Utc>) -> Term {
    Literal::new_typed_literal(t.format("%Y-%m-%dT%H:%M:%SZ").to_string(), xsd::DATE_TIME).into()
}

impl Graph {
    fn add(&mut self, s: impl Into<NamedOrBlankNode>, p: &str, o: impl Into<Term>) -> Result<()> {
        self.triples.push(Triple::new(s, iri(p)?, o));
        Ok(())
    }

    fn typed(&mut self, s: &NamedNode, class: &str) -> Result<()> {
        self.add(s.clone(), rdf::TYPE.as_str(), iri(class)?)
    }

    /// Adds the organization as a foaf:Agent (DCAT-AP requires foaf:name).
    fn agent(&mut self, base: &str, pkg: &Package) -> Result<NamedNode> {
        let a = iri(&format!("{base}/open/org/{}", pkg.org_name))?;
        self.typed(&a, &format!("{FOAF}Agent"))?;
        self.add(a.clone(), &format!("{FOAF}name"), zh(&pkg.provider_name))?;
        self.publisher_type(&a)?;
        Ok(a)
    }

    /// ADMS publisher type: a city's departments are regional authorities.
    fn publisher_type(&mut self, agent: &NamedNode) -> Result<()> {
        let kind = iri("http://purl.org/adms/publishertype/RegionalAuthority")?;
        self.typed(&kind, &format!("{SKOS}Concept"))?;
        self.add(
            kind.clone(),
            &format!("{SKOS}prefLabel"),
            zh("地方政府机构"),
        )?;
        self.add(agent.clone(), &format!("{DCT}type"), kind)
    }

    fn dataset(&mut self, base: &str, pkg: &Package) -> Result<NamedNode> {
        let d = iri(&pkg.url(base))?;
        self.typed(&d, &format!("{DCAT}Dataset"))?;
        self.add(d.clone(), &format!("{DCT}title"), zh(&pkg.title))?;
        let description = if pkg.notes.trim().is_empty() {
            &pkg.title
        } else {
            &pkg.notes
        };
        self.add(d.clone(), &format!("{DCT}description"), zh(description))?;
        self.add(
            d.clone(),
            &format!("{DCT}identifier"),
            Literal::new_simple_literal(&pkg.code),
        )?;
        for t in &pkg.tags {
            self.add(d.clone(), &format!("{DCAT}keyword"), zh(t))?;
        }
        let theme = iri(&format!("{base}/open/group/{}", pkg.group.0))?;
        self.typed(&theme, &format!("{SKOS}Concept"))?;
        self.add(theme.clone(), &format!("{SKOS}prefLabel"), zh(&pkg.group.1))?;
        self.add(
            theme.clone(),
            &format!("{SKOS}inScheme"),
            iri(&format!("{base}/open/themes"))?,
        )?;
        self.add(d.clone(), &format!("{DCAT}theme"), theme)?;
        let agent = self.agent(base, pkg)?;
        self.add(d.clone(), &format!("{DCT}publisher"), agent.clone())?;
        self.add(d.clone(), &format!("{DCT}creator"), agent)?;
        self.add(d.clone(), &format!("{DCT}issued"), time(&pkg.created))?;
        self.add(d.clone(), &format!("{DCT}modified"), time(&pkg.modified))?;
        let freq = iri(&format!("{EU}frequency/{}", frequency(pkg.update_cycle)))?;
        self.typed(&freq, &format!("{DCT}Frequency"))?;
        self.add(d.clone(), &format!("{DCT}accrualPeriodicity"), freq)?;
        let rights = iri(&format!(
            "{EU}access-right/{}",
            match pkg.access {
                OpenAccess::Public => "PUBLIC",
                OpenAccess::Conditional => "RESTRICTED",
            }
        ))?;
        self.typed(&rights, &format!("{DCT}RightsStatement"))?;
        self.add(d.clone(), &format!("{DCT}accessRights"), rights)?;
        let lang = iri(&format!("{EU}language/ZHO"))?;
        self.typed(&lang, &format!("{DCT}LinguisticSystem"))?;
        self.add(d.clone(), &format!("{DCT}language"), lang.clone())?;
        let page = iri(&pkg.url(base))?;
        self.typed(&page, &format!("{FOAF}Document"))?;
        self.add(d.clone(), &format!("{DCAT}landingPage"), page)?;
        let contact = BlankNode::default();
        for class in ["Organization", "Kind"] {
            self.add(
                contact.clone(),
                rdf::TYPE.as_str(),
                iri(&format!("{VCARD}{class}"))?,
            )?;
        }
        self.add(
            contact.clone(),
            &format!("{VCARD}fn"),
            zh(&pkg.provider_name),
        )?;
        self.add(
            contact.clone(),
            &format!("{VCARD}hasURL"),
            iri(&format!("{base}/open/org/{}", pkg.org_name))?,
        )?;
        self.add(d.clone(), &format!("{DCAT}contactPoint"), contact)?;
        if pkg.has_data() {
            for (ext, fmt, mime) in FORMATS {
                let dist = iri(&format!("{}/resource/{ext}", pkg.url(base)))?;
                self.typed(&dist, &format!("{DCAT}Distribution"))?;
                self.add(
                    dist.clone(),
                    &format!("{DCT}title"),
                    zh(&format!("{}（{fmt}）", pkg.title)),
                )?;
                let url = iri(&pkg.download_url(base, ext))?;
                self.add(dist.clone(), &format!("{DCAT}accessURL"), url.clone())?;
                self.add(dist.clone(), &format!("{DCAT}downloadURL"), url)?;
                let ft = iri(&format!("{EU}file-type/{}", fmt.to_ascii_uppercase()))?;
                self.typed(&ft, &format!("{DCT}MediaTypeOrExtent"))?;
                self.add(dist.clone(), &format!("{DCT}format"), ft)?;
                let mt = iri(&format!(
                    "https://www.iana.org/assignments/media-types/{mime}"
                ))?;
                self.typed(&mt, &format!("{DCT}MediaType"))?;
                self.add(dist.clone(), &format!("{DCAT}mediaType"), mt)?;
                // Open data under CC BY 4.0; conditional data under the terms of its
                // approved applications.
                let lic = match pkg.access {
                    OpenAccess::Public => iri("https://creativecommons.org/licenses/by/4.0/")?,
                    OpenAccess::Conditional => iri(&format!("{base}/open/terms#conditional"))?,
                };
                self.typed(&lic, &format!("{DCT}LicenseDocument"))?;
                self.add(dist.clone(), &format!("{DCT}license"), lic)?;
                let availability = iri(&format!("{EU}planned-availability/STABLE"))?;
                self.typed(&availability, &format!("{SKOS}Concept"))?;
                self.add(
                    availability.clone(),
                    &format!("{SKOS}prefLabel"),
                    zh("长期可用"),
                )?;
                self.add(
                    dist.clone(),
                    &format!("{DCT}description"),
                    zh(&format!("{}的{fmt}格式下载，按开放规则脱敏", pkg.title)),
                )?;
                self.add(
                    dist.clone(),
                    "http://data.europa.eu/r5r/availability",
                    availability,
                )?;
                self.add(dist.clone(), &format!("{DCT}issued"), time(&pkg.created))?;
                self.add(dist.clone(), &format!("{DCT}modified"), time(&pkg.modified))?;
                self.add(d.clone(), &format!("{DCAT}distribution"), dist)?;
            }
        }
        let id = BlankNode::default();
        self.add(
            id.clone(),
            rdf::TYPE.as_str(),
            iri(&format!("{ADMS}Identifier"))?,
        )?;
        self.add(
            id.clone(),
            &format!("{SKOS}notation"),
            Literal::new_simple_literal(&pkg.code),
        )?;
        self.add(d.clone(), &format!("{ADMS}identifier"), id)?;
        Ok(d)
    }

    fn serialize(&self, kind: RdfKind) -> Result<Vec<u8>> {
        let mut s = RdfSerializer::from_format(kind.format());
        for (p, ns) in [
            ("dcat", DCAT),
            ("dct", DCT),
            ("foaf", FOAF),
            ("skos", SKOS),
            ("vcard", VCARD),
            ("hydra", HYDRA),
            ("adms", ADMS),
            ("xsd", "http://www.w3.org/2001/XMLSchema#"),
        ] {
            s = s
                .with_prefix(p, ns)
                .map_err(|e| OpenError::Index(format!("prefix {p}: {e}")))?;
        }
        let mut w = s.for_writer(Vec::new());
        for t in &self.triples {
            w.serialize_triple(t)?;
        }
        Ok(w.finish()?)
    }
}

/// The EU frequency vocabulary's code for an update cycle.
fn frequency(c: UpdateCycle) -> &'static str {
    match c {
        UpdateCycle::Realtime => "UPDATE_CONT",
        UpdateCycle::Daily => "DAILY",
        UpdateCycle::Weekly => "WEEKLY",
        UpdateCycle::Monthly => "MONTHLY",
        UpdateCycle::Quarterly => "QUARTERLY",
        UpdateCycle::Semiannual => "ANNUAL_2",
        UpdateCycle::Yearly => "ANNUAL",
        UpdateCycle::Irregular => "IRREG",
    }
}

/// Datasets per catalog page.
pub const PAGE_SIZE: usize = 100;

/// One page (from 1) of the catalog.
pub fn catalog(
    snap: &Snapshot,
    base: &str,
    site_title: &str,
    page: usize,
    kind: RdfKind,
) -> Result<Vec<u8>> {
    let total = snap.packages.len();
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    if page == 0 || page > pages {
        return Err(OpenError::invalid(
            "PAGE_INVALID",
            format!("页码应在 1 到 {pages} 之间"),
            format!("page must be between 1 and {pages}"),
        ));
    }
    let mut g = Graph {
        triples: Vec::new(),
    };
    let c = iri(&format!("{base}/catalog"))?;
    g.typed(&c, &format!("{DCAT}Catalog"))?;
    g.add(
        c.clone(),
        &format!("{DCT}title"),
        zh(&format!("{site_title}公共数据开放目录")),
    )?;
    g.add(
        c.clone(),
        &format!("{DCT}description"),
        zh(&format!("{site_title}向社会开放的公共数据资源目录")),
    )?;
    let publisher = iri(&format!("{base}/open"))?;
    g.typed(&publisher, &format!("{FOAF}Agent"))?;
    g.add(publisher.clone(), &format!("{FOAF}name"), zh(site_title))?;
    g.publisher_type(&publisher)?;
    g.add(c.clone(), &format!("{DCT}publisher"), publisher)?;
    let home = iri(&format!("{base}/open"))?;
    g.typed(&home, &format!("{FOAF}Document"))?;
    g.add(c.clone(), &format!("{FOAF}homepage"), home)?;
    let lang = iri(&format!("{EU}language/ZHO"))?;
    g.typed(&lang, &format!("{DCT}LinguisticSystem"))?;
    g.add(c.clone(), &format!("{DCT}language"), lang)?;
    let scheme = iri(&format!("{base}/open/themes"))?;
    g.typed(&scheme, &format!("{SKOS}ConceptScheme"))?;
    g.add(
        scheme.clone(),
        &format!("{DCT}title"),
        zh("公共数据开放主题"),
    )?;
    g.add(c.clone(), &format!("{DCAT}themeTaxonomy"), scheme)?;
    if let Some(latest) = snap.packages.iter().map(|p| p.modified).max() {
        g.add(c.clone(), &format!("{DCT}modified"), time(&latest))?;
    }
    if let Some(first) = snap.packages.iter().map(|p| p.created).min() {
        g.add(c.clone(), &format!("{DCT}issued"), time(&first))?;
    }
    for pkg in snap
        .packages
        .iter()
        .skip((page - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
    {
        let d = g.dataset(base, pkg)?;
        g.add(c.clone(), &format!("{DCAT}dataset"), d)?;
    }
    let ext = kind.ext();
    let page_iri = iri(&format!("{base}/catalog.{ext}?page={page}"))?;
    g.typed(&page_iri, &format!("{HYDRA}PagedCollection"))?;
    let lit = |s: String| Literal::new_simple_literal(s);
    let page_url = |n: usize| format!("{base}/catalog.{ext}?page={n}");
    g.add(
        page_iri.clone(),
        &format!("{HYDRA}totalItems"),
        Literal::new_typed_literal(total.to_string(), xsd::INTEGER),
    )?;
    g.add(
        page_iri.clone(),
        &format!("{HYDRA}itemsPerPage"),
        Literal::new_typed_literal(PAGE_SIZE.to_string(), xsd::INTEGER),
    )?;
    g.add(
        page_iri.clone(),
        &format!("{HYDRA}firstPage"),
        lit(page_url(1)),
    )?;
    g.add(
        page_iri.clone(),
        &format!("{HYDRA}lastPage"),
        lit(page_url(pages)),
    )?;
    if page < pages {
        g.add(
            page_iri.clone(),
            &format!("{HYDRA}nextPage"),
            lit(page_url(page + 1)),
        )?;
    }
    if page > 1 {
        g.add(
            page_iri.clone(),
            &format!("{HYDRA}previousPage"),
            lit(page_url(page - 1)),
        )?;
    }
    g.serialize(kind)
}

/// One dataset's metadata.
pub fn dataset(pkg: &Package, base: &str, kind: RdfKind) -> Result<Vec<u8>> {
    let mut g = Graph {
        triples: Vec::new(),
    };
    g.dataset(base, pkg)?;
    g.serialize(kind)
}
