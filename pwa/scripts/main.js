// The entry point: start the app and register the service worker.

import { App } from "./App.js";

App(document.getElementById("app"));

if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch((error) => console.warn("service worker", error));
}
