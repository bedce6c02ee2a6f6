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
import java.security.KeyStore
import java.security.cert.CertificateFactory
import javax.net.ssl.HttpsURLConnection
import javax.net.ssl.KeyManagerFactory
import javax.net.ssl.SSLContext
import javax.net.ssl.TrustManagerFactory
import jenkins.model.Jenkins

@Field String readyLabel = 'buildfleet-ready'
@Field int agentPort = 20580
@Field int timeoutMs = 5000
@Field boolean degradedIsReady = true // a shared outage (registry) must not drain the whole fleet
// Agents on HTTPS (tls: in their config): the CA that signed their certificates, whose names
// must match the node host names. With tls.clientCAFile the controller also needs a client
// certificate, as PKCS#12 (openssl pkcs12 -export -in jenkins.pem -inkey jenkins.key -out jenkins.p12).
@Field String caFile = null            // e.g. '/etc/pki/buildfleet/ca.pem'; null: plain http://
@Field String clientP12 = null         // e.g. '/etc/pki/buildfleet/jenkins.p12'
@Field String clientP12Password = ''
@Field SSLContext tlsContext = null

// Trusts only caFile (not the JVM's CAs: any public certificate for the host name would do).
SSLContext agentTlsContext() {
  KeyStore trusted = KeyStore.getInstance(KeyStore.getDefaultType())
  trusted.load(null, null)
  new File(caFile).withInputStream { input ->
    CertificateFactory.getInstance('X.509').generateCertificates(input).eachWithIndex { cert, i -> trusted.setCertificateEntry("ca${i}", cert) }
  }
  TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm())
  tmf.init(trusted)
  KeyManagerFactory kmf = null
  if (clientP12 != null) {
    KeyStore keys = KeyStore.getInstance('PKCS12')
    new File(clientP12).withInputStream { input -> keys.load(input, clientP12Password.toCharArray()) }
    kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm())
    kmf.init(keys, clientP12Password.toCharArray())
  }
  SSLContext context = SSLContext.getInstance('TLS')
  context.init(kmf?.keyManagers, tmf.trustManagers, null)
  return context
}

// 200 / 429 / 503 from the agent, or -1 when it cannot be asked.
int preflightStatus(String host) {
  try {
    def conn = new URL("${tlsContext == null ? 'http' : 'https'}://${host}:${agentPort}/v1/preflight").openConnection()
    if (conn instanceof HttpsURLConnection) conn.SSLSocketFactory = tlsContext.socketFactory
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

if (caFile != null) tlsContext = agentTlsContext()
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
