// Patient form: add and remove repeating items (lesions, treatment events, operations) and
// show only the inputs that apply to a treatment event's kind. No framework, no build step.
(function () {
  "use strict";

  function applyKind(item) {
    var select = item.querySelector("[data-kind-select]");
    if (!select) return;
    var kind = select.value;
    item.querySelectorAll("[data-kinds]").forEach(function (field) {
      var on = kind !== "" && field.dataset.kinds.split(" ").indexOf(kind) >= 0;
      field.hidden = !on;
      field.querySelectorAll("input, select").forEach(function (el) { el.disabled = !on; });
    });
  }

  function changed(el) {
    el.dispatchEvent(new Event("input", { bubbles: true }));
  }

  document.addEventListener("click", function (event) {
    var add = event.target.closest("[data-add-item]");
    if (add) {
      var group = add.closest(".repeat");
      var index = Number(group.dataset.next || 0);
      group.dataset.next = String(index + 1);
      var html = group.querySelector("template").innerHTML.split("__i__").join(String(index));
      var list = group.querySelector(".items");
      list.insertAdjacentHTML("beforeend", html);
      var item = list.lastElementChild;
      applyKind(item);
      var first = item.querySelector("input, select");
      if (first) first.focus();
      changed(list);
      return;
    }
    var remove = event.target.closest("[data-remove-item]");
    if (remove) {
      var gone = remove.closest(".item");
      var parent = gone.parentNode;
      gone.remove();
      changed(parent);
    }
  });

  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-kind-select]")) applyKind(event.target.closest(".item"));
  });

  document.querySelectorAll(".repeat .items .item").forEach(applyKind);
})();
