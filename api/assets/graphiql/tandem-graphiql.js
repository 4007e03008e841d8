// Starts GraphiQL on Tandem's /graphql page (api/src/http/graphiql.rs serves this file and the
// page). It is a file, not an inline script, so that the page's policy allows scripts from this
// origin only.
(function () {
  "use strict";
  // The endpoints are this page's own address, so the page works behind any host, port, path
  // prefix or TLS terminator: queries go to where the page came from, subscriptions to its
  // `/ws`, over wss: when the page came over https:.
  var page = new URL(window.location.href);
  var endpoint = new URL(page.pathname, page.origin);
  var subscriptions = new URL(page.pathname.replace(/\/+$/, "") + "/ws", page.origin);
  subscriptions.protocol = page.protocol === "https:" ? "wss:" : "ws:";

  // The headers pane's JSON goes with every HTTP request and, for a subscription, as the
  // `connection_init` payload, where the server reads `Authorization`.
  var fetcher = GraphiQL.createFetcher({
    url: endpoint.href,
    subscriptionUrl: subscriptions.href,
  });

  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      // Kept in this browser's local storage, so a reload does not ask for the token again.
      shouldPersistHeaders: true,
      defaultHeaders: '{\n  "Authorization": "Bearer <token>"\n}',
      defaultEditorToolsVisibility: "headers",
    })
  );
})();
