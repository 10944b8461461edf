// The peer for `bridge bench --peer`: what a user might build instead of the
// bridge, an in-memory SCIM 2.0 server on scimmy + scimmy-routers (express).
// Users and Groups live in plain arrays (with an id -> record map, as any
// sensible implementation would have); filters are evaluated with scimmy's
// own Filter.match over the array.
//
//   PORT=0 PEER_USERS=10000 PEER_TOKEN=t node server.js
//
// It listens on 127.0.0.1 only and prints "listening <port>" once it serves.
"use strict";
const express = require("express");
// scimmy-routers re-exports the SCIMMY instance it routes to.
const {SCIMMY, SCIMMYRouters} = require("scimmy-routers");

const token = process.env.PEER_TOKEN || "peer-token";
const preload = Number(process.env.PEER_USERS || 0);

const users = [];
const usersById = new Map();
const groups = [];
const groupsById = new Map();
let seq = 0;
const newId = () => (++seq).toString(16).padStart(24, "0");
const meta = (created) => {
  const now = new Date();
  return {created: created || now, lastModified: now};
};

function putUser(rec) {
  if (usersById.has(rec.id)) {
    users[users.findIndex((u) => u.id === rec.id)] = rec;
  } else {
    users.push(rec);
  }
  usersById.set(rec.id, rec);
  return rec;
}

for (let i = 0; i < preload; i++) {
  const userName = `user${String(i).padStart(6, "0")}@example.com`;
  putUser({
    id: newId(), userName, active: true,
    name: {givenName: "U", familyName: String(i)},
    emails: [{value: userName, type: "work", primary: true}],
    meta: meta(),
  });
}
for (const displayName of ["Members", "Premium", "Staff"]) {
  const g = {id: newId(), displayName, members: [], meta: meta()};
  groups.push(g);
  groupsById.set(g.id, g);
}

SCIMMY.Resources.declare(SCIMMY.Resources.User)
  .egress((resource) => {
    if (resource.id) {
      const u = usersById.get(resource.id);
      if (!u) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
      return u;
    }
    return resource.filter ? resource.filter.match(users) : users;
  })
  .ingress((resource, instance) => {
    const lower = String(instance.userName).toLowerCase();
    const clash = users.find((u) => u.userName.toLowerCase() === lower && u.id !== resource.id);
    if (clash) throw new SCIMMY.Types.Error(409, "uniqueness", "userName already exists");
    if (resource.id) {
      const old = usersById.get(resource.id);
      if (!old) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
      return putUser({...instance, id: resource.id, meta: meta(old.meta.created)});
    }
    return putUser({...instance, id: newId(), meta: meta()});
  })
  .degress((resource) => {
    const i = users.findIndex((u) => u.id === resource.id);
    if (i < 0) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
    users.splice(i, 1);
    usersById.delete(resource.id);
  });

SCIMMY.Resources.declare(SCIMMY.Resources.Group)
  .egress((resource) => {
    if (resource.id) {
      const g = groupsById.get(resource.id);
      if (!g) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
      return g;
    }
    return resource.filter ? resource.filter.match(groups) : groups;
  })
  .ingress((resource, instance) => {
    if (resource.id) {
      const old = groupsById.get(resource.id);
      if (!old) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
      const g = {...instance, id: resource.id, meta: meta(old.meta.created)};
      groups[groups.indexOf(old)] = g;
      groupsById.set(g.id, g);
      return g;
    }
    const g = {...instance, id: newId(), meta: meta()};
    groups.push(g);
    groupsById.set(g.id, g);
    return g;
  })
  .degress((resource) => {
    const g = groupsById.get(resource.id);
    if (!g) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
    groups.splice(groups.indexOf(g), 1);
    groupsById.delete(resource.id);
  });

const app = express();
app.use("/scim/v2", new SCIMMYRouters({
  type: "bearer",
  docUri: "https://example.com/help/bearer.html",
  handler: (req) => {
    if (req.header("Authorization") !== `Bearer ${token}`) throw new Error("Authorization failed");
    return "bench";
  },
}));
const server = app.listen(Number(process.env.PORT || 0), "127.0.0.1", () => {
  console.log(`listening ${server.address().port} users ${users.length} groups ${groups.map((g) => g.id).join(",")}`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
