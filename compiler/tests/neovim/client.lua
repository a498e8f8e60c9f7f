-- Neovim (Debian's 0.7) as a language client of `compiler lsp`: opens a spec, waits for its diagnostics, asks for a hover
-- on its first word, writes what it got to OUT, and quits. Usage:
--   COMPILER=… SPEC=… OUT=… nvim --headless -u NONE -c "luafile client.lua"
local compiler, spec, out = os.getenv("COMPILER"), os.getenv("SPEC"), os.getenv("OUT")
local lines = {}
local function say(line) table.insert(lines, line) end
local function finish()
  local file = io.open(out, "w")
  file:write(table.concat(lines, "\n") .. "\n")
  file:close()
  vim.cmd("qa!")
end
vim.cmd("edit " .. spec)
local buffer = vim.api.nvim_get_current_buf()
local client = vim.lsp.start_client({ cmd = { compiler, "lsp" }, root_dir = vim.fn.fnamemodify(spec, ":h") })
if not client then say("error: the server did not start"); finish() end
vim.lsp.buf_attach_client(buffer, client)
local diagnosed = vim.wait(10000, function() return #vim.diagnostic.get(buffer) > 0 end, 50)
if not diagnosed then say("error: no diagnostics came"); finish() end
for _, d in ipairs(vim.diagnostic.get(buffer)) do
  say(string.format("diagnostic %d:%d %s", d.lnum + 1, d.col + 1, d.message))
end
local hover = vim.lsp.buf_request_sync(buffer, "textDocument/hover", {
  textDocument = { uri = vim.uri_from_bufnr(buffer) }, position = { line = 0, character = 1 },
}, 5000)
for _, answer in pairs(hover or {}) do
  if answer.result and answer.result.contents then say("hover " .. answer.result.contents.value:sub(1, 40)) end
end
finish()
