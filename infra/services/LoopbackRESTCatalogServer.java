/*
 * Starts Apache Iceberg's reference REST catalog server (org.apache.iceberg.rest.RESTCatalogServer,
 * shipped as the runnable iceberg-open-api jar) bound to one host address.
 *
 * Why a wrapper: RESTCatalogServer.start() creates `new Server(port)`, which listens on every
 * interface, and turns on SO_REUSEPORT, which lets a second server start on the same port and
 * silently share its connections. A test catalog holding S3 credentials should be reachable from
 * this machine only, and a double start must fail. Everything else (the CATALOG_* environment
 * variables, the JDBC/SQLite default, the catalog itself) is upstream's, reached through the same
 * package-private classes, so behaviour matches the stock server. Written against iceberg-open-api
 * 1.10.1 (Jetty 11); infra/services/iceberg-rest.sh compiles it against that jar.
 *
 * One behaviour is added: creating or registering a table (or creating a view) in a namespace that
 * does not exist answers 404 NoSuchNamespaceException, as the REST spec (open-api/rest-catalog-open-api.yaml,
 * createTable/registerTable/createView) and every production catalog do. The upstream server's JDBC
 * backend instead creates the table and leaves the namespace implicit, so a client could never be
 * tested against the spec's answer.
 *
 * Settings: environment as for RESTCatalogServer (CATALOG_REST_PORT, CATALOG_URI, ...) plus the
 * system property lakehouse.rest.host (default 127.0.0.1).
 */
package org.apache.iceberg.rest;

import java.lang.reflect.Method;
import java.util.Map;
import org.apache.iceberg.catalog.Namespace;
import org.apache.iceberg.catalog.SupportsNamespaces;
import org.apache.iceberg.exceptions.NoSuchNamespaceException;
import org.apache.iceberg.util.PropertyUtil;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.handler.gzip.GzipHandler;
import org.eclipse.jetty.servlet.ServletContextHandler;
import org.eclipse.jetty.servlet.ServletHolder;

public final class LoopbackRESTCatalogServer {
  private LoopbackRESTCatalogServer() {}

  public static void main(String[] args) throws Exception {
    String host = System.getProperty("lakehouse.rest.host", "127.0.0.1");

    // Upstream's private initializeBackendCatalog(): CATALOG_* env -> properties, JdbcCatalog default.
    RESTCatalogServer upstream = new RESTCatalogServer();
    Method init = RESTCatalogServer.class.getDeclaredMethod("initializeBackendCatalog");
    init.setAccessible(true);
    RESTCatalogServer.CatalogContext context = (RESTCatalogServer.CatalogContext) init.invoke(upstream);

    // Same handler chain as RESTCatalogServer.start().
    RESTCatalogServlet servlet = new RESTCatalogServlet(new StrictNamespaceAdapter(context));
    ServletContextHandler handler = new ServletContextHandler(ServletContextHandler.NO_SESSIONS);
    handler.addServlet(new ServletHolder(servlet), "/*");
    handler.insertHandler(new GzipHandler());

    Server server = new Server();
    ServerConnector connector = new ServerConnector(server);
    connector.setHost(host);
    connector.setPort(
        PropertyUtil.propertyAsInt(
            context.configuration(), RESTCatalogServer.REST_PORT, RESTCatalogServer.REST_PORT_DEFAULT));
    server.addConnector(connector);
    server.setHandler(handler);
    server.setStopAtShutdown(true); // SIGTERM stops Jetty gracefully (in-flight requests finish)
    server.start();
    server.join();
  }

  /** Upstream's adapter, refusing to create anything in a namespace that does not exist. */
  static final class StrictNamespaceAdapter extends RESTServerCatalogAdapter {
    private final SupportsNamespaces namespaces;

    StrictNamespaceAdapter(RESTCatalogServer.CatalogContext context) {
      super(context);
      this.namespaces = (SupportsNamespaces) context.catalog();
    }

    @Override
    public <T extends RESTResponse> T handleRequest(
        Route route, Map<String, String> vars, Object body, Class<T> responseType) {
      if (route == Route.CREATE_TABLE || route == Route.REGISTER_TABLE || route == Route.CREATE_VIEW) {
        Namespace namespace = RESTUtil.decodeNamespace(vars.get("namespace"));
        if (!namespaces.namespaceExists(namespace)) {
          // Same exception and message as upstream's other namespace checks: the servlet maps it to 404.
          throw new NoSuchNamespaceException("Namespace does not exist: %s", namespace);
        }
      }
      return super.handleRequest(route, vars, body, responseType);
    }
  }
}
