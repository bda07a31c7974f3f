const fs = require('fs');
const path = require('path');
const roots = ['packages', 'packages/examples', 'tools'];
const projects = [];
for (const root of roots) {
  const dir = path.join(__dirname, root);
  if (!fs.existsSync(dir)) continue;
  for (const name of fs.readdirSync(dir)) {
    const cfg = path.join(dir, name, 'jest.config.cjs');
    if (fs.existsSync(cfg)) projects.push(cfg);
  }
}
module.exports = { projects };
