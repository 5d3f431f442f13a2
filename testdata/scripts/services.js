// The services of the web shop and what each one calls, from a file.
Topology.query('type = "service"').then(r => r.components.map(c => ({
  service: c.name,
  calls: r.relations.filter(rel => rel.source === c.id).map(rel => r.components.find(x => x.id === rel.target).name),
})))
