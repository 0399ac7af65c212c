// The prescriber's pages: NIR check as typed, medication search (ARIA combobox), dosage
// templates, quantity from the dosage, lines added and removed, and printing.
// Plain JavaScript, no library; every control works with the keyboard alone.
"use strict";

(function () {
  const SEARCH_DELAY_MS = 200;
  const SEARCH_PAGE_SIZE = 8;
  const QUANTITY_MAX = 20;
  const WORDS = JSON.parse(document.body.dataset.words || "{}");

  // A text of the page language (base.html's data-words), its {parts} filled in.
  function word(name, parts) {
    return (WORDS[name] || name).replace(/\{(\w+)\}/g, (all, part) => (parts && part in parts ? String(parts[part]) : all));
  }

  // -- NIR: the key is checked as typed; the server's answer (the name) is the authority ----

  function compactNir(value) {
    return value.replace(/[\s.-]/g, "").toUpperCase();
  }

  // Why a complete NIR is wrong, or "" when its key is right (15 characters assumed).
  function nirProblem(nir) {
    if (!/^[12378]\d{4}(\d{2}|2A|2B)\d{8}$/.test(nir)) {
      return word("nir_shape");
    }
    const digits = nir.slice(0, 13).replace("2A", "19").replace("2B", "18");
    const key = String(97 - (Number(digits) % 97)).padStart(2, "0");
    return key === nir.slice(13) ? "" : word("nir_key", { expected: key, typed: nir.slice(13) });
  }

  // A refusal of the server in the page language, by its stable code.
  function problem(body) {
    return (WORDS.problems || {})[body.code] || word("nir_refused");
  }

  function setupNir(form) {
    const input = form.querySelector("#patient_nir");
    const status = form.querySelector("#patient_nir-status");
    if (!input || !status) return;
    const csrf = form.querySelector("input[name=csrf_token]").value;
    let asked = "";

    // A patient never prescribed for before is named only once the prescriber confirms they
    // are with them (the same answer otherwise, whether the NIR is recorded or not).
    function offerConfirmation(nir, detail) {
      status.textContent = detail + " ";
      const button = document.createElement("button");
      button.type = "button";
      button.id = "confirm-patient";
      button.textContent = word("confirm_patient");
      button.addEventListener("click", function () { confirm(nir, true); });
      status.appendChild(button);
    }

    async function confirm(nir, confirmed) {
      asked = nir;
      status.textContent = word("looking_up");
      try {
        const response = await fetch(form.dataset.lookupUrl, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf },
          body: JSON.stringify({ nir: nir, confirmed: confirmed === true }),
        });
        const body = await response.json();
        if (asked !== nir) return;
        if (response.ok) {
          status.textContent = body.birth_date
            ? word("patient_found_born", { name: body.name, born: body.birth_date })
            : word("patient_found", { name: body.name });
          input.removeAttribute("aria-invalid");
        } else if (body.code === "patient_confirmation_required") {
          offerConfirmation(nir, problem(body));
          input.removeAttribute("aria-invalid");
        } else {
          status.textContent = problem(body);
          input.setAttribute("aria-invalid", "true");
        }
      } catch (error) {
        status.textContent = word("lookup_failed");
      }
    }

    function check() {
      const nir = compactNir(input.value);
      if (nir === asked) return;
      if (nir.length < 15) {
        asked = "";
        status.textContent = nir ? word("nir_typed", { count: nir.length }) : word("nir_hint");
        input.removeAttribute("aria-invalid");
        return;
      }
      const problem = nir.length > 15 ? word("nir_length", { count: nir.length }) : nirProblem(nir);
      if (problem) {
        asked = nir;
        status.textContent = problem;
        input.setAttribute("aria-invalid", "true");
        return;
      }
      confirm(nir);
    }

    // Search as you type among this prescriber's patients, by name or the start of the NIR.
    const listbox = form.querySelector("#patient-listbox");
    let found = [];
    let active = -1;
    let timer = null;
    let sequence = 0;

    function close() {
      listbox.hidden = true;
      found = [];
      active = -1;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }

    function mark(index) {
      const options = listbox.querySelectorAll("[role=option]");
      options.forEach((option, i) => option.setAttribute("aria-selected", i === index ? "true" : "false"));
      active = index;
      if (index >= 0) input.setAttribute("aria-activedescendant", options[index].id);
    }

    function pick(index) {
      const patient = found[index];
      if (!patient) return;
      close();
      input.value = patient.nir;
      check();
      const medication = form.querySelector(".medication-search");
      if (medication) medication.focus();
    }

    async function searchPatients(text) {
      const mine = ++sequence;
      try {
        const response = await fetch(form.dataset.patientsUrl, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf },
          body: JSON.stringify({ q: text }),
        });
        const body = await response.json();
        if (mine !== sequence || !response.ok) return;
        found = body.patients || [];
      } catch (error) {
        return;
      }
      listbox.replaceChildren(...found.map(function (patient, index) {
        const option = document.createElement("li");
        option.id = "patient-option-" + index;
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", "false");
        option.textContent = patient.birth_date
          ? word("patient_found_born", { name: patient.name, born: patient.birth_date })
          : word("patient_found", { name: patient.name });
        option.addEventListener("mousedown", function (event) { event.preventDefault(); pick(index); });
        return option;
      }));
      listbox.hidden = found.length === 0;
      input.setAttribute("aria-expanded", found.length ? "true" : "false");
      mark(found.length ? 0 : -1);
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      const text = input.value.trim();
      const typedNir = /^[0-9\s.-]*$/.test(text) || /^\d{5}2[AB]/i.test(compactNir(text));
      if (typedNir && compactNir(text).length >= 15) {
        sequence++;
        close();
        check();
        return;
      }
      if (typedNir) check();
      if (text.length < 2) {
        sequence++;
        close();
        return;
      }
      if (!typedNir) {
        asked = "";
        status.textContent = "";
        input.removeAttribute("aria-invalid");
      }
      timer = setTimeout(() => searchPatients(text), SEARCH_DELAY_MS);
    });
    input.addEventListener("keydown", function (event) {
      const open = !listbox.hidden && found.length > 0;
      if (listboxKey(event, open, found.length, active, { mark, pick, close })) return;
      if (event.key === "Enter" && !event.ctrlKey && compactNir(input.value).length === 15) {
        event.preventDefault(); // a complete NIR: on to the first medication
        const medication = form.querySelector(".medication-search");
        if (medication) medication.focus();
      }
    });
    input.addEventListener("blur", close);
    form.querySelectorAll(".recent-patient").forEach(function (button) {
      button.addEventListener("click", function () {
        input.value = button.dataset.nir;
        check();
        input.focus();
      });
    });
    if (input.value) check();
  }

  // -- quantity: dose × times a day × days, in packs of the chosen presentation ------------

  // Units in a BDPM pack label: "2 plaquette(s) … de 8 comprimé(s)" holds 16 comprimés.
  function packSize(label) {
    const counts = Array.from(label.matchAll(/(\d+)\s+([^\s()]+)\(s\)/g));
    if (!counts.length) return null;
    return { units: counts.reduce((product, match) => product * Number(match[1]), 1), word: counts[counts.length - 1][2] };
  }

  function sameUnit(a, b) {
    const simple = (text) => text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase().slice(0, 5);
    return !a || !b || simple(a) === simple(b);
  }

  function updateQuantity(line) {
    const value = (name) => line.querySelector("." + name).value.trim().replace(",", ".");
    const dose = Number(value("dose"));
    const frequency = Number(value("frequency_per_day"));
    const days = Number(value("duration_days"));
    const hint = line.querySelector("[id$=quantity-hint]");
    const pack = line.dataset.packUnits ? Number(line.dataset.packUnits) : null;
    if (!(dose > 0 && frequency > 0 && days > 0)) return;
    const needed = Math.ceil(dose * frequency * days);
    if (!pack || !sameUnit(value("dose_unit"), line.dataset.packWord)) {
      hint.textContent = word("units_needed", { units: needed });
      return;
    }
    const packs = Math.min(QUANTITY_MAX, Math.ceil(needed / pack));
    line.querySelector(".quantity").value = String(packs);
    hint.textContent = word("units_in_packs", { units: needed, packs: packs, size: pack });
  }

  // -- the listboxes (patients, medications) -------------------------------------------------

  // In an open listbox: the arrows move, Enter chooses (it is not submitting), Escape closes.
  // Whether the key was one of these.
  function listboxKey(event, open, count, active, moves) {
    if (!open) return false;
    if (event.key === "ArrowDown") moves.mark((active + 1) % count);
    else if (event.key === "ArrowUp") moves.mark(active <= 0 ? count - 1 : active - 1);
    else if (event.key === "Enter" && !event.ctrlKey) moves.pick(active >= 0 ? active : 0);
    else if (event.key === "Escape") moves.close();
    else return false;
    event.preventDefault();
    return true;
  }

  // -- what the chosen product's conditions ask the prescriber to write (docs/rules.md) -----

  // Each rule field shows when the chosen product has one of its condition kinds, or when it
  // holds a value; hidden, it takes no keyboard action.
  function showRuleFields(line, kinds) {
    line.querySelector(".condition-kinds").value = kinds.join(" ");
    line.querySelectorAll(".rule-field").forEach(function (field) {
      const needed = field.dataset.kinds.split(" ").some((kind) => kinds.includes(kind));
      const filled = Array.from(field.querySelectorAll("input")).some((input) => input.type === "checkbox" ? input.checked : input.value);
      field.hidden = !(needed || filled);
    });
  }

  // -- the medication combobox --------------------------------------------------------------

  function setupCombobox(line, searchUrl) {
    const input = line.querySelector(".medication-search");
    const listbox = line.querySelector("[role=listbox]");
    const status = line.querySelector("[id$=search-status]");
    const cis = line.querySelector(".medication-cis");
    let timer = null;
    let hits = [];
    let active = -1;
    let sequence = 0;

    function close() {
      listbox.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function show(index) {
      const options = listbox.querySelectorAll("[role=option]");
      options.forEach((option, i) => option.setAttribute("aria-selected", i === index ? "true" : "false"));
      active = index;
      if (index >= 0) {
        input.setAttribute("aria-activedescendant", options[index].id);
        options[index].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function choose(index) {
      const hit = hits[index];
      if (!hit) return;
      input.value = hit.name;
      if (hit.substance) { // a substance line: prescribed by DCI, any of its packs may be given
        cis.value = "";
        line.querySelector(".medication-substance[name$=substance_code]").value = hit.substance.code;
        line.querySelector(".medication-substance[name$=strength]").value = hit.substance.strength;
        line.querySelector(".medication-substance[name$=form]").value = hit.substance.form;
        line.dataset.packUnits = "";
        line.dataset.packWord = "";
        status.textContent = word("chosen_substance", { name: hit.name });
        showRuleFields(line, []);
        close();
        updateQuantity(line);
        return;
      }
      cis.value = hit.cis;
      line.querySelectorAll(".medication-substance").forEach((field) => { field.value = ""; });
      showRuleFields(line, (hit.conditions || []).map((condition) => condition.kind));
      const pack = (hit.presentations || []).map((p) => packSize(p.label || "")).find(Boolean);
      line.dataset.packUnits = pack ? String(pack.units) : "";
      line.dataset.packWord = pack ? pack.word : "";
      status.textContent = pack
        ? word("chosen_packs", { name: hit.name, cis: hit.cis, size: pack.units, unit: pack.word })
        : word("chosen", { name: hit.name, cis: hit.cis });
      close();
      updateQuantity(line);
    }

    async function search(query) {
      const mine = ++sequence;
      let body;
      try {
        const response = await fetch(searchUrl + "?q=" + encodeURIComponent(query) + "&page_size=" + SEARCH_PAGE_SIZE, {
          credentials: "same-origin",
          headers: { "Accept": "application/json" },
        });
        if (!response.ok) throw new Error(String(response.status));
        body = await response.json();
      } catch (error) {
        if (mine === sequence) status.textContent = word("search_failed");
        return;
      }
      if (mine !== sequence) return; // a newer search is on its way
      // The substance lines (by DCI) first, then the products.
      hits = (body.substances || []).concat(body.items.filter((hit) => hit.prescribable));
      listbox.replaceChildren(...hits.map(function (hit, index) {
        const option = document.createElement("li");
        option.id = input.id + "-option-" + index;
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", "false");
        option.textContent = hit.substance ? word("substance_option", { name: hit.name }) : hit.name;
        option.addEventListener("mousedown", function (event) { event.preventDefault(); choose(index); });
        return option;
      }));
      if (hits.length) {
        listbox.hidden = false;
        input.setAttribute("aria-expanded", "true");
        status.textContent = word("found", { shown: hits.length, total: body.total });
      } else {
        close();
        status.textContent = word("nothing_found");
      }
      show(-1);
    }

    input.addEventListener("input", function () {
      cis.value = "";
      line.querySelectorAll(".medication-substance").forEach((field) => { field.value = ""; });
      showRuleFields(line, []);
      clearTimeout(timer);
      const query = input.value.trim();
      if (query.length < 2) {
        sequence++;
        close();
        status.textContent = "";
        return;
      }
      timer = setTimeout(() => search(query), SEARCH_DELAY_MS);
    });

    function pick(index) {
      choose(index);
      line.querySelector(".dosage-template").focus(); // on to its dosage
    }

    input.addEventListener("keydown", function (event) {
      const open = !listbox.hidden && hits.length > 0;
      if (listboxKey(event, open, hits.length, active, { mark: show, pick, close })) return;
      if (event.key === "Enter" && !event.ctrlKey && (cis.value || line.querySelector(".medication-substance").value)) {
        event.preventDefault(); // chosen already: on to its dosage
        line.querySelector(".dosage-template").focus();
      }
    });
    input.addEventListener("blur", close);
  }

  // -- a line: template, structure, quantity ------------------------------------------------

  function setupLine(line, searchUrl) {
    setupCombobox(line, searchUrl);
    const template = line.querySelector(".dosage-template");
    template.addEventListener("change", function () {
      const option = template.selectedOptions[0];
      if (!option || !option.value) return;
      line.querySelector(".dosage-text").value = option.dataset.text;
      line.querySelector(".dose").value = option.dataset.dose;
      line.querySelector(".dose_unit").value = option.dataset.unit;
      line.querySelector(".frequency_per_day").value = option.dataset.frequency;
      line.querySelector(".duration_days").value = option.dataset.duration;
      updateQuantity(line);
    });
    line.querySelectorAll(".structured").forEach((field) => field.addEventListener("input", () => updateQuantity(line)));
    // Enter on the dosage (its template, its fields, the quantity) adds the next line.
    line.querySelectorAll(".dosage-template, .dosage-text, .structured, .quantity").forEach(function (field) {
      field.addEventListener("keydown", function (event) {
        if (event.key !== "Enter" || event.ctrlKey || event.shiftKey || event.altKey) return;
        event.preventDefault();
        line.closest("form").querySelector("#add-line").click();
      });
    });
  }

  function renumber(list) {
    list.querySelectorAll("[data-line]").forEach(function (line, index) {
      line.querySelector(".line-number").textContent = String(index + 1);
      line.querySelector(".remove-line").textContent = word("remove_line", { number: index + 1 });
    });
  }

  function setupLines(form) {
    const list = form.querySelector("#lines");
    const template = form.querySelector("#line-template");
    const searchUrl = form.dataset.searchUrl;
    let next = list.querySelectorAll("[data-line]").length;
    list.querySelectorAll("[data-line]").forEach((line) => setupLine(line, searchUrl));

    form.querySelector("#add-line").addEventListener("click", function () {
      const html = template.innerHTML.replaceAll("__INDEX__", String(next++));
      list.insertAdjacentHTML("beforeend", html);
      const line = list.lastElementChild;
      setupLine(line, searchUrl);
      renumber(list);
      line.querySelector(".medication-search").focus();
    });
    list.addEventListener("click", function (event) {
      const button = event.target.closest(".remove-line");
      if (!button) return;
      const line = button.closest("[data-line]");
      const lines = Array.from(list.querySelectorAll("[data-line]"));
      if (lines.length === 1) {
        line.querySelectorAll("input:not([type=checkbox]), textarea").forEach((field) => { field.value = ""; });
        line.querySelectorAll("input[type=checkbox]").forEach((field) => { field.checked = false; });
        line.querySelector(".medication-search").focus();
        return;
      }
      const previous = lines[Math.max(0, lines.indexOf(line) - 1)];
      line.remove();
      renumber(list);
      (previous === line ? list.querySelector(".medication-search") : previous.querySelector(".medication-search")).focus();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    const form = document.getElementById("prescription-form");
    if (form) {
      setupNir(form);
      setupLines(form);
      // Ctrl+Enter (Cmd+Enter) anywhere in the form: to the review.
      form.addEventListener("keydown", function (event) {
        if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
          event.preventDefault();
          form.requestSubmit();
        }
      });
      const patient = form.querySelector("#patient_nir");
      if (patient && patient.value && document.activeElement === document.body) {
        const first = form.querySelector(".medication-search");
        if (first) first.focus();
      }
      // After a refused submission, start where the first problem is.
      const invalid = document.getElementById("form-errors") && form.querySelector("[aria-invalid=true]");
      if (invalid) invalid.focus();
    }
    document.querySelectorAll("[data-print]").forEach(function (button) {
      button.addEventListener("click", () => window.print());
    });
  });
})();
