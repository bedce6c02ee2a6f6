// Keeps the Jenkins label `buildfleet-ready` on the nodes whose buildfleet-agent accepts (200),
// and takes it away from the ones that refuse (503), are degraded (429, unless degradedIsReady)
// or do not answer. Jobs that ask for `buildfleet-ready` then simply queue for a healthy node.
//
// Run it as a system Groovy script every minute (e.g. a freestyle job with "Execute system
// Groovy script" from the Groovy plugin and a `* * * * *` build trigger, on the controller);
// it needs administer permission because it edits nodes. Only the label is touched; a node
// taken out here is not set offline, so running builds are never interrupted.
//
// Not run in this project's CI (there is no Jenkins on the test machine); the HTTP contract it
// relies on is (docs/scheduler.md).
import groovy.transform.Field
import jenkins.model.Jenkins

@Field String readyLabel = 'buildfleet-ready'
@Field int agentPort = 20580
@Field int timeoutMs = 5000
@Field boolean degradedIsReady = true // a shared outage (registry) must not drain the whole fleet

// 200 / 429 / 503 from the agent, or -1 when it cannot be asked.
int preflightStatus(String host) {
  try {
    def conn = new URL("http://${host}:${agentPort}/v1/preflight").openConnection()
    conn.connectTimeout = timeoutMs
    conn.readTimeout = timeoutMs
    conn.setRequestProperty('Connection', 'close')
    int status = conn.responseCode
    (status < 400 ? conn.inputStream : conn.errorStream)?.close()
    return status
  } catch (Exception e) {
    return -1
  }
}

def jenkins = Jenkins.get()
jenkins.nodes.each { node ->
  // The agent runs on the build host: ask by the name the controller reaches the node by.
  String host = node.computer?.isOnline() ? node.computer.hostName : null
  if (host == null) return // an offline node takes no builds anyway
  int status = preflightStatus(host)
  boolean ready = status == 200 || (degradedIsReady && status == 429)
  List<String> labels = node.labelString.split(/\s+/).findAll { it && it != readyLabel }
  if (ready) labels << readyLabel
  String wanted = labels.join(' ')
  if (wanted != node.labelString) {
    node.labelString = wanted
    jenkins.updateNode(node)
    println "${node.nodeName} (${host}): HTTP ${status}, ${ready ? 'now' : 'no longer'} ${readyLabel}"
  }
}
