// The page: four tabs, each a module with a start() called once.
import { startLive } from "./live.js";
import { startModels } from "./models.js";
import { startRecognise } from "./recognise.js";
import { startTrain } from "./train.js";

const tabs = [...document.querySelectorAll("nav [role=tab]")];

function show(name) {
  for (const tab of tabs) {
    const on = tab.dataset.panel === name;
    tab.setAttribute("aria-selected", String(on));
    document.getElementById(`panel-${tab.dataset.panel}`).hidden = !on;
  }
  window.dispatchEvent(new Event("resize")); // charts in a shown panel take its width
}

for (const tab of tabs) {
  tab.addEventListener("click", () => { history.replaceState(null, "", `#${tab.dataset.panel}`); show(tab.dataset.panel); });
}
show(tabs.some((t) => `#${t.dataset.panel}` === location.hash) ? location.hash.slice(1) : "live");

startLive();
startRecognise();
const models = startModels();
startTrain(() => models.refresh());
