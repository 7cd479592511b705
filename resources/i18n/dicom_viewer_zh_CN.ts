<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN">
<context>
    <name>DicomizeDialog</name>
    <message>
        <source>DICOMize files</source>
        <translation>转换为 DICOM</translation>
    </message>
    <message>
        <source>These files become DICOM instances of this patient&apos;s study:</source>
        <translation>这些文件将成为该患者检查中的 DICOM 实例：</translation>
    </message>
    <message>
        <source>Patient:</source>
        <translation>患者：</translation>
    </message>
    <message>
        <source>Study:</source>
        <translation>检查：</translation>
    </message>
    <message>
        <source>Nothing can be DICOMized: remove the files refused above.</source>
        <translation>无法转换：请移除上面被拒绝的文件。</translation>
    </message>
    <message>
        <source>Each kind of file goes into one new series.</source>
        <translation>每种文件各放入一个新序列。</translation>
    </message>
    <message>
        <source>DICOMize</source>
        <translation>转换</translation>
    </message>
    <message>
        <source>{name}  (ID {id}), born {born}, sex {sex}</source>
        <translation>{name}（ID {id}），出生 {born}，性别 {sex}</translation>
    </message>
    <message>
        <source>new</source>
        <translation>新建</translation>
    </message>
    <message>
        <source>accession {a}</source>
        <translation>检查号 {a}</translation>
    </message>
    <message>
        <source>from the worklist</source>
        <translation>来自工作列表</translation>
    </message>
    <message>
        <source>in the archive</source>
        <translation>在存档中</translation>
    </message>
    <message>
        <source>typed</source>
        <translation>手工输入</translation>
    </message>
    <message>
        <source>DICOMizing...</source>
        <translation>正在转换...</translation>
    </message>
    <message>
        <source>Imported {count} instance(s).</source>
        <translation>已导入 {count} 个实例。</translation>
    </message>
    <message>
        <source>Not imported: {files}</source>
        <translation>未导入：{files}</translation>
    </message>
    <message>
        <source>Close</source>
        <translation>关闭</translation>
    </message>
    <message>
        <source>DICOMize failed: {reason}</source>
        <translation>转换失败：{reason}</translation>
    </message>
</context>
<context>
    <name>ExportDialog</name>
    <message>
        <source>Export to CD/DVD</source>
        <translation>导出到 CD/DVD</translation>
    </message>
    <message>
        <source>an empty folder</source>
        <translation>一个空文件夹</translation>
    </message>
    <message>
        <source>Browse...</source>
        <translation>浏览...</translation>
    </message>
    <message>
        <source>De-identify (PS3.15 basic profile)</source>
        <translation>去标识化（PS3.15 基本配置）</translation>
    </message>
    <message>
        <source>Keep dates and times</source>
        <translation>保留日期和时间</translation>
    </message>
    <message>
        <source>Clean descriptions</source>
        <translation>清理描述文字</translation>
    </message>
    <message>
        <source>Include images with burned-in annotation</source>
        <translation>包含带有烧录注释的图像</translation>
    </message>
    <message>
        <source>Key images only</source>
        <translation>仅关键图像</translation>
    </message>
    <message>
        <source>Only the images a key object document flags, with those documents and the presentation states they name</source>
        <translation>仅导出关键对象文档所标记的图像，以及这些文档和其引用的显示状态</translation>
    </message>
    <message>
        <source>Also write an ISO image to burn</source>
        <translation>同时生成可刻录的 ISO 映像</translation>
    </message>
    <message>
        <source>image file (.iso)</source>
        <translation>映像文件 (.iso)</translation>
    </message>
    <message>
        <source>Folder:</source>
        <translation>文件夹：</translation>
    </message>
    <message>
        <source>Media profile:</source>
        <translation>介质配置：</translation>
    </message>
    <message>
        <source>ISO image:</source>
        <translation>ISO 映像：</translation>
    </message>
    <message>
        <source>{count} studies selected</source>
        <translation>已选择 {count} 个检查</translation>
    </message>
    <message>
        <source>Export</source>
        <translation>导出</translation>
    </message>
    <message>
        <source>Choose an empty folder to export to.</source>
        <translation>请选择一个空文件夹作为导出目标。</translation>
    </message>
    <message>
        <source>Name the ISO image file.</source>
        <translation>请指定 ISO 映像文件名。</translation>
    </message>
    <message>
        <source>Exporting...</source>
        <translation>正在导出...</translation>
    </message>
    <message>
        <source>Exporting {done} / {total}</source>
        <translation>正在导出 {done} / {total}</translation>
    </message>
    <message>
        <source>Exported {count} files to {folder}</source>
        <translation>已导出 {count} 个文件到 {folder}</translation>
    </message>
    <message>
        <source>{count} not exported</source>
        <translation>{count} 个未导出</translation>
    </message>
    <message>
        <source>ISO image {path}</source>
        <translation>ISO 映像 {path}</translation>
    </message>
    <message>
        <source>no ISO image: {reason}</source>
        <translation>未生成 ISO 映像：{reason}</translation>
    </message>
    <message>
        <source>Close</source>
        <translation>关闭</translation>
    </message>
    <message>
        <source>Export failed: {reason}</source>
        <translation>导出失败：{reason}</translation>
    </message>
    <message>
        <source>Export cancelled; nothing was left in the folder.</source>
        <translation>导出已取消；文件夹中没有留下任何文件。</translation>
    </message>
    <message>
        <source>Export to folder</source>
        <translation>导出到文件夹</translation>
    </message>
</context>
<context>
    <name>FindingsModel</name>
    <message>
        <source>Severity</source>
        <translation>严重程度</translation>
    </message>
    <message>
        <source>File</source>
        <translation>文件</translation>
    </message>
    <message>
        <source>Tag</source>
        <translation>标签</translation>
    </message>
    <message>
        <source>Keyword</source>
        <translation>关键字</translation>
    </message>
    <message>
        <source>Module</source>
        <translation>模块</translation>
    </message>
    <message>
        <source>Message</source>
        <translation>说明</translation>
    </message>
</context>
<context>
    <name>FusionBar</name>
    <message>
        <source>Fuse</source>
        <translation>融合</translation>
    </message>
    <message>
        <source>None</source>
        <translation>无</translation>
    </message>
    <message>
        <source>Opacity</source>
        <translation>不透明度</translation>
    </message>
    <message>
        <source>Window</source>
        <translation>窗</translation>
    </message>
    <message>
        <source>No SUVbw: %1</source>
        <translation>无 SUVbw：%1</translation>
    </message>
</context>
<context>
    <name>HangingSession</name>
    <message>
        <source>Next stage</source>
        <translation>下一阶段</translation>
    </message>
    <message>
        <source>Previous stage</source>
        <translation>上一阶段</translation>
    </message>
    <message>
        <source>Compare with prior</source>
        <translation>与既往检查对比</translation>
    </message>
    <message>
        <source>Link with offset</source>
        <translation>按偏移联动滚动</translation>
    </message>
    <message>
        <source>Scroll the other viewports with the active one, keeping the slices shown now together</source>
        <translation>其他视口随当前视口滚动，保持现在显示的层面相互对应</translation>
    </message>
    <message>
        <source>Hanging</source>
        <translation>挂片</translation>
    </message>
    <message>
        <source>%1 (and %2 more hanging protocol files with errors)</source>
        <translation>%1（另有 %2 个挂片协议文件有错误）</translation>
    </message>
    <message>
        <source>Hanging: default</source>
        <translation>挂片：默认</translation>
    </message>
    <message>
        <source>One series per viewport: no hanging protocol matched</source>
        <translation>每个视口一个序列：没有匹配的挂片协议</translation>
    </message>
    <message>
        <source>One series per viewport</source>
        <translation>每个视口一个序列</translation>
    </message>
    <message>
        <source>Reload protocol files</source>
        <translation>重新加载协议文件</translation>
    </message>
    <message>
        <source>No relevant prior of this study is in the archive</source>
        <translation>存档中没有此检查的相关既往检查</translation>
    </message>
    <message>
        <source>The prior of %1 has no matching series</source>
        <translation>%1 的既往检查没有匹配的序列</translation>
    </message>
    <message>
        <source>Scrolling linked: %1 viewport(s) follow the active one</source>
        <translation>滚动已联动：%1 个视口跟随当前视口</translation>
    </message>
    <message>
        <source>Asking %1 for the newest relevant prior…</source>
        <translation>正在向 %1 查询最新的相关既往检查…</translation>
    </message>
    <message>
        <source>Prior from %1: %2 of %3 images</source>
        <translation>来自 %1 的既往检查：%2 / %3 幅图像</translation>
    </message>
    <message>
        <source>Prior from %1: %2</source>
        <translation>来自 %1 的既往检查：%2</translation>
    </message>
</context>
<context>
    <name>ImageExportMenu</name>
    <message>
        <source>Export</source>
        <translation>导出</translation>
    </message>
    <message>
        <source>With annotations</source>
        <translation>带注释</translation>
    </message>
    <message>
        <source>With the patient&apos;s name and IDs</source>
        <translation>包含患者姓名和标识</translation>
    </message>
    <message>
        <source>Off for teaching files: the name, ID, birth date, institution and study date are left out</source>
        <translation>用于教学文件时关闭：不导出姓名、ID、出生日期、机构和检查日期</translation>
    </message>
    <message>
        <source>Viewport as {format}…</source>
        <translation>视口导出为 {format}…</translation>
    </message>
    <message>
        <source>All viewports as one PNG…</source>
        <translation>所有视口导出为一张 PNG…</translation>
    </message>
    <message>
        <source>All viewports as PNG files…</source>
        <translation>所有视口分别导出为 PNG 文件…</translation>
    </message>
    <message>
        <source>Series as PNG pictures…</source>
        <translation>序列导出为 PNG 图片…</translation>
    </message>
    <message>
        <source>Series as MP4 video…</source>
        <translation>序列导出为 MP4 视频…</translation>
    </message>
    <message>
        <source>Series as GIF animation…</source>
        <translation>序列导出为 GIF 动画…</translation>
    </message>
    <message>
        <source>Copy viewport to clipboard</source>
        <translation>复制视口到剪贴板</translation>
    </message>
    <message>
        <source>Size as on screen</source>
        <translation>尺寸：与屏幕显示相同</translation>
    </message>
    <message>
        <source>Size: one image pixel per picture pixel</source>
        <translation>尺寸：每个图像像素对应一个图片像素</translation>
    </message>
    <message>
        <source>Size: twice the image&apos;s pixels</source>
        <translation>尺寸：图像像素的两倍</translation>
    </message>
    <message>
        <source>Viewport copied to the clipboard</source>
        <translation>视口已复制到剪贴板</translation>
    </message>
    <message>
        <source>The frames are exported at the image&apos;s size (a presentation state&apos;s displayed area), turned as shown, not zoomed or panned.</source>
        <translation>各帧按图像尺寸（显示状态的显示区域）导出，按显示方向旋转，不含缩放和平移。</translation>
    </message>
    <message>
        <source>Images the presentation state does not reference are exported without it.</source>
        <translation>显示状态未引用的图像将不带该显示状态导出。</translation>
    </message>
    <message>
        <source>Exporting the series…</source>
        <translation>正在导出序列…</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>Export cancelled</source>
        <translation>导出已取消</translation>
    </message>
    <message>
        <source>Exported {count} file(s)</source>
        <translation>已导出 {count} 个文件</translation>
    </message>
    <message>
        <source>{count} frame(s) could not be read: {first}</source>
        <translation>{count} 帧无法读取：{first}</translation>
    </message>
    <message>
        <source>Export failed: {reason}</source>
        <translation>导出失败：{reason}</translation>
    </message>
    <message>
        <source>Export viewport</source>
        <translation>导出视口</translation>
    </message>
    <message>
        <source>Export all viewports</source>
        <translation>导出所有视口</translation>
    </message>
    <message>
        <source>Export viewports to</source>
        <translation>导出视口到</translation>
    </message>
    <message>
        <source>Export series to</source>
        <translation>导出序列到</translation>
    </message>
    <message>
        <source>Export series</source>
        <translation>导出序列</translation>
    </message>
</context>
<context>
    <name>ImportSummary</name>
    <message>
        <source>Imported: {imported}
Already present: {present}
Already present in another transfer syntax: {other}
Conflicts: {conflicts}
Failed: {failed}</source>
        <translation>已导入：{imported}
已存在：{present}
已以其他传输语法存在：{other}
冲突：{conflicts}
失败：{failed}</translation>
    </message>
    <message>
        <source>Failed:</source>
        <translation>失败：</translation>
    </message>
    <message>
        <source>Conflicts (the stored copy was kept):</source>
        <translation>冲突（保留了已存储的副本）：</translation>
    </message>
    <message>
        <source>Already present in another transfer syntax (the stored copy was kept):</source>
        <translation>已以其他传输语法存在（保留了已存储的副本）：</translation>
    </message>
    <message>
        <source>Warnings:</source>
        <translation>警告：</translation>
    </message>
    <message>
        <source>... and {count} more</source>
        <translation>……另有 {count} 项</translation>
    </message>
    <message>
        <source>Import finished</source>
        <translation>导入完成</translation>
    </message>
    <message>
        <source>The import stopped early: {reason}</source>
        <translation>导入提前中止：{reason}</translation>
    </message>
    <message>
        <source>... and {count} more (see the details)</source>
        <translation>……另有 {count} 项（见详细信息）</translation>
    </message>
</context>
<context>
    <name>KeyImages</name>
    <message>
        <source>%1 Key image (not saved)</source>
        <translation>%1 关键图像（未保存）</translation>
    </message>
    <message>
        <source>%1 Key image</source>
        <translation>%1 关键图像</translation>
    </message>
    <message>
        <source>PS %1</source>
        <translation>显示状态 %1</translation>
    </message>
    <message>
        <source>No image in the active viewport</source>
        <translation>当前视口中没有图像</translation>
    </message>
    <message>
        <source>Key image flag removed</source>
        <translation>已取消关键图像标记</translation>
    </message>
    <message>
        <source>This key image is saved in a key object document; it stays flagged</source>
        <translation>此关键图像已保存在关键对象文档中，标记保留</translation>
    </message>
    <message>
        <source>Key image flagged (not saved yet)</source>
        <translation>已标记为关键图像（尚未保存）</translation>
    </message>
    <message>
        <source>No unsaved key image: flag images with K first</source>
        <translation>没有未保存的关键图像：请先按 K 标记图像</translation>
    </message>
    <message>
        <source>Saving key images needs the archive: open the study from it</source>
        <translation>保存关键图像需要存档：请从存档中打开检查</translation>
    </message>
    <message>
        <source>Key images: %1</source>
        <translation>关键图像：%1</translation>
    </message>
    <message numerus="yes">
        <source>Saving %n key image(s)…</source>
        <translation>
            <numerusform>正在保存 %n 幅关键图像…</numerusform>
        </translation>
    </message>
    <message>
        <source>Key images</source>
        <translation>关键图像</translation>
    </message>
    <message>
        <source>This study has no key image</source>
        <translation>此检查没有关键图像</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>Studies</source>
        <translation>检查列表</translation>
    </message>
    <message>
        <source>PACS</source>
        <translation>PACS</translation>
    </message>
    <message>
        <source>Worklist</source>
        <translation>工作列表</translation>
    </message>
    <message>
        <source>Viewer</source>
        <translation>阅片</translation>
    </message>
    <message>
        <source>No image of this study is in the archive.</source>
        <translation>存档中没有此检查的图像。</translation>
    </message>
    <message>
        <source>Demo study</source>
        <translation>演示检查</translation>
    </message>
    <message>
        <source>Reading tools</source>
        <translation>阅片工具</translation>
    </message>
    <message>
        <source>Window/Level</source>
        <translation>窗宽/窗位</translation>
    </message>
    <message>
        <source>Pan</source>
        <translation>平移</translation>
    </message>
    <message>
        <source>Zoom</source>
        <translation>缩放</translation>
    </message>
    <message>
        <source>Pixel probe</source>
        <translation>像素值探针</translation>
    </message>
    <message>
        <source>Length</source>
        <translation>长度</translation>
    </message>
    <message>
        <source>Angle</source>
        <translation>角度</translation>
    </message>
    <message>
        <source>Rectangle ROI</source>
        <translation>矩形感兴趣区 (ROI)</translation>
    </message>
    <message>
        <source>Ellipse ROI</source>
        <translation>椭圆感兴趣区 (ROI)</translation>
    </message>
    <message>
        <source>Shutter</source>
        <translation>遮光器</translation>
    </message>
    <message>
        <source>Layout</source>
        <translation>布局</translation>
    </message>
    <message>
        <source>Presets</source>
        <translation>预设窗</translation>
    </message>
    <message>
        <source>File&apos;s windows (0)</source>
        <translation>文件自带窗 (0)</translation>
    </message>
    <message>
        <source>Invert</source>
        <translation>反相</translation>
    </message>
    <message>
        <source>Fit</source>
        <translation>适合窗口</translation>
    </message>
    <message>
        <source>1:1</source>
        <translation>1:1</translation>
    </message>
    <message>
        <source>Rotate 90°</source>
        <translation>旋转 90°</translation>
    </message>
    <message>
        <source>Flip horizontal</source>
        <translation>水平翻转</translation>
    </message>
    <message>
        <source>Flip vertical</source>
        <translation>垂直翻转</translation>
    </message>
    <message>
        <source>Cine</source>
        <translation>电影回放</translation>
    </message>
    <message>
        <source> fps</source>
        <translation> 帧/秒</translation>
    </message>
    <message>
        <source>MPR</source>
        <translation>多平面重建</translation>
    </message>
    <message>
        <source>Axial, coronal and sagittal planes of the active series (M)</source>
        <translation>当前序列的横断面、冠状面和矢状面 (M)</translation>
    </message>
    <message>
        <source>Sync scroll</source>
        <translation>同步滚动</translation>
    </message>
    <message>
        <source>Reference lines</source>
        <translation>定位线</translation>
    </message>
    <message>
        <source>Delete measurements</source>
        <translation>删除测量</translation>
    </message>
    <message>
        <source>Tags</source>
        <translation>标签</translation>
    </message>
    <message>
        <source>Data quality…</source>
        <translation>数据质量…</translation>
    </message>
    <message>
        <source>Reset view</source>
        <translation>重置视图</translation>
    </message>
    <message>
        <source>Back to the presentation state&apos;s view and window (Ctrl+R)</source>
        <translation>恢复到显示状态的视图和窗宽窗位 (Ctrl+R)</translation>
    </message>
    <message>
        <source>Save presentation state…</source>
        <translation>保存显示状态…</translation>
    </message>
    <message>
        <source>Print…</source>
        <translation>打印…</translation>
    </message>
    <message>
        <source>Export</source>
        <translation>导出</translation>
    </message>
    <message>
        <source>Key image</source>
        <translation>关键图像</translation>
    </message>
    <message>
        <source>Flag or unflag the active image as a key image (K)</source>
        <translation>将当前图像标记或取消标记为关键图像 (K)</translation>
    </message>
    <message>
        <source>Key images</source>
        <translation>关键图像</translation>
    </message>
    <message>
        <source>Save key images…</source>
        <translation>保存关键图像…</translation>
    </message>
    <message>
        <source>Key images only</source>
        <translation>仅关键图像</translation>
    </message>
    <message>
        <source>This image suggests no window</source>
        <translation>此图像未提供窗宽窗位</translation>
    </message>
    <message>
        <source>Window %1</source>
        <translation>窗 %1</translation>
    </message>
    <message>
        <source>Brain</source>
        <translation>脑</translation>
    </message>
    <message>
        <source>Subdural</source>
        <translation>硬膜下</translation>
    </message>
    <message>
        <source>Stroke</source>
        <translation>卒中</translation>
    </message>
    <message>
        <source>Lung</source>
        <translation>肺</translation>
    </message>
    <message>
        <source>Mediastinum</source>
        <translation>纵隔</translation>
    </message>
    <message>
        <source>Abdomen</source>
        <translation>腹部</translation>
    </message>
    <message>
        <source>Liver</source>
        <translation>肝脏</translation>
    </message>
    <message>
        <source>Bone</source>
        <translation>骨</translation>
    </message>
    <message>
        <source>Temporal bone</source>
        <translation>颞骨</translation>
    </message>
    <message>
        <source>Internal error (%1); the viewer carries on. See the log for details.</source>
        <translation>内部错误（%1），查看器继续运行。详情见日志。</translation>
    </message>
</context>
<context>
    <name>MprLayout</name>
    <message>
        <source>Slab</source>
        <translation>层块</translation>
    </message>
    <message>
        <source>Total slab thickness, centred on the plane (0: thin)</source>
        <translation>层块总厚度，以平面为中心（0：薄层）</translation>
    </message>
    <message>
        <source>MIP</source>
        <translation>MIP</translation>
    </message>
    <message>
        <source>MinIP</source>
        <translation>MinIP</translation>
    </message>
    <message>
        <source>Average</source>
        <translation>平均</translation>
    </message>
    <message>
        <source>Reset planes</source>
        <translation>重置平面</translation>
    </message>
    <message>
        <source>Save as series…</source>
        <translation>另存为序列…</translation>
    </message>
    <message>
        <source>Close MPR</source>
        <translation>关闭多平面重建</translation>
    </message>
    <message>
        <source>Open 3D view</source>
        <translation>打开三维视图</translation>
    </message>
    <message>
        <source>3D rendering is not part of this build</source>
        <translation>此版本不含三维渲染</translation>
    </message>
</context>
<context>
    <name>MprView</name>
    <message>
        <source>Cannot reslice: %1</source>
        <translation>无法重建切面：%1</translation>
    </message>
    <message>
        <source>Axial</source>
        <translation>横断面</translation>
    </message>
    <message>
        <source>Coronal</source>
        <translation>冠状面</translation>
    </message>
    <message>
        <source>Sagittal</source>
        <translation>矢状面</translation>
    </message>
    <message>
        <source>(loading)</source>
        <translation>（加载中）</translation>
    </message>
</context>
<context>
    <name>OverlayGroup</name>
    <message>
        <source>Close</source>
        <translation>关闭</translation>
    </message>
    <message numerus="yes">
        <source>%n contour(s) not drawn</source>
        <translation>
            <numerusform>%n 条轮廓未绘制</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>OverlayLayer</name>
    <message>
        <source>another Frame of Reference</source>
        <translation>另一个参考坐标系</translation>
    </message>
    <message>
        <source>%1 not shown: %2</source>
        <translation>%1 未显示：%2</translation>
    </message>
</context>
<context>
    <name>OverlayPanel</name>
    <message>
        <source>Opacity of the segments</source>
        <translation>分割区的不透明度</translation>
    </message>
    <message>
        <source>Opacity</source>
        <translation>不透明度</translation>
    </message>
</context>
<context>
    <name>PacsPanel</name>
    <message>
        <source>No PACS is configured. Add one with:  dicom-viewer nodes add NAME AET HOST PORT  (a DICOMweb service:  dicom-viewer nodes add NAME --dicomweb URL)</source>
        <translation>尚未配置 PACS。添加方法：  dicom-viewer nodes add NAME AET HOST PORT  （DICOMweb 服务：  dicom-viewer nodes add NAME --dicomweb URL）</translation>
    </message>
</context>
<context>
    <name>PacsQuery</name>
    <message>
        <source>Echo</source>
        <translation>连通测试</translation>
    </message>
    <message>
        <source>C-ECHO: is the node there and does it answer?</source>
        <translation>C-ECHO：该节点是否在线并能应答？</translation>
    </message>
    <message>
        <source>Node:</source>
        <translation>节点：</translation>
    </message>
    <message>
        <source>QIDO-RS probe: is the DICOMweb service there and does it answer?</source>
        <translation>QIDO-RS 探测：DICOMweb 服务是否在线并能应答？</translation>
    </message>
    <message>
        <source>Patient name (* ?)</source>
        <translation>患者姓名 (* ?)</translation>
    </message>
    <message>
        <source>Wildcards: * any text, ? one character. Names beginning with what you type match.</source>
        <translation>通配符：* 任意文字，? 单个字符。以所输入内容开头的姓名均匹配。</translation>
    </message>
    <message>
        <source>Patient ID</source>
        <translation>患者 ID</translation>
    </message>
    <message>
        <source>Accession number</source>
        <translation>检查号</translation>
    </message>
    <message>
        <source>YYYY-MM-DD, YYYY-MM or YYYY; empty: no limit</source>
        <translation>YYYY-MM-DD、YYYY-MM 或 YYYY；留空表示不限</translation>
    </message>
    <message>
        <source>From YYYY-MM-DD</source>
        <translation>起始日期 YYYY-MM-DD</translation>
    </message>
    <message>
        <source>To YYYY-MM-DD</source>
        <translation>截止日期 YYYY-MM-DD</translation>
    </message>
    <message>
        <source>Any modality</source>
        <translation>全部模态</translation>
    </message>
    <message>
        <source>Search</source>
        <translation>搜索</translation>
    </message>
    <message>
        <source>Select one study to see its series.</source>
        <translation>选择一个检查以查看其序列。</translation>
    </message>
    <message>
        <source>1 answer had broken character set data: shown with replacement characters</source>
        <translation>1 个应答含有损坏的字符集数据：以替换字符显示</translation>
    </message>
    <message>
        <source>{count} answers had broken character set data: shown with replacement characters</source>
        <translation>{count} 个应答含有损坏的字符集数据：以替换字符显示</translation>
    </message>
    <message>
        <source>1 answer had other text problems</source>
        <translation>1 个应答有其他文本问题</translation>
    </message>
    <message>
        <source>{count} answers had other text problems</source>
        <translation>{count} 个应答有其他文本问题</translation>
    </message>
    <message>
        <source>1 answer could not be read</source>
        <translation>1 个应答无法读取</translation>
    </message>
    <message>
        <source>{count} answers could not be read</source>
        <translation>{count} 个应答无法读取</translation>
    </message>
    <message>
        <source>What was wrong in the answers of {peer}:</source>
        <translation>{peer} 的应答中的问题：</translation>
    </message>
    <message>
        <source>Echo failed: {reason}</source>
        <translation>连通测试失败：{reason}</translation>
    </message>
    <message>
        <source>Echo {node}...</source>
        <translation>正在测试 {node} 的连通性...</translation>
    </message>
    <message>
        <source>Echo {peer}: success ({ms} ms)</source>
        <translation>连通测试 {peer}：成功（{ms} 毫秒）</translation>
    </message>
    <message>
        <source>Echo {peer}: status 0x{status}</source>
        <translation>连通测试 {peer}：状态 0x{status}</translation>
    </message>
    <message>
        <source>A date cannot be read: use YYYY-MM-DD.</source>
        <translation>日期无法识别：请使用 YYYY-MM-DD 格式。</translation>
    </message>
    <message>
        <source>Search failed: {reason}</source>
        <translation>查询失败：{reason}</translation>
    </message>
    <message>
        <source>Searching {node}...</source>
        <translation>正在查询 {node}...</translation>
    </message>
    <message>
        <source>Studies found: {count}</source>
        <translation>找到检查：{count}</translation>
    </message>
    <message>
        <source>{count} studies found on {peer} in {seconds} s</source>
        <translation>在 {peer} 上找到 {count} 个检查，用时 {seconds} 秒</translation>
    </message>
    <message>
        <source>Asking for the series...</source>
        <translation>正在查询序列...</translation>
    </message>
    <message>
        <source>Series query failed: {reason}</source>
        <translation>序列查询失败：{reason}</translation>
    </message>
    <message>
        <source>Series of the selected study: {count}</source>
        <translation>所选检查的序列：{count}</translation>
    </message>
</context>
<context>
    <name>PacsTransfer</name>
    <message>
        <source>Retrieve series</source>
        <translation>获取序列</translation>
    </message>
    <message>
        <source>Retrieve only the selected series of this study</source>
        <translation>只获取此检查中选中的序列</translation>
    </message>
    <message>
        <source>C-MOVE</source>
        <translation>C-MOVE</translation>
    </message>
    <message>
        <source>C-GET</source>
        <translation>C-GET</translation>
    </message>
    <message>
        <source>C-MOVE: the PACS sends the images to our AE title (it must know it as a destination). C-GET: the images come back on the same connection.</source>
        <translation>C-MOVE：PACS 将图像发送到本机的 AE 名称（PACS 须已将其配置为目标）。C-GET：图像经同一连接传回。</translation>
    </message>
    <message>
        <source>Retrieve</source>
        <translation>获取</translation>
    </message>
    <message>
        <source>Open</source>
        <translation>打开</translation>
    </message>
    <message>
        <source>Show the selected study now, without retrieving it first: the image you look at arrives first, the rest in the background into the archive (DICOMweb nodes)</source>
        <translation>立即显示所选检查，无需先获取：正在查看的图像最先到达，其余在后台存入本地存档（DICOMweb 节点）</translation>
    </message>
    <message>
        <source>Retrieve with:</source>
        <translation>获取方式：</translation>
    </message>
    <message>
        <source>Retrieve with: WADO-RS</source>
        <translation>获取方式：WADO-RS</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>Retrieving {count} series from {node}...</source>
        <translation>正在从 {node} 获取 {count} 个序列...</translation>
    </message>
    <message>
        <source>Retrieving {count} studies from {node}...</source>
        <translation>正在从 {node} 获取 {count} 个检查...</translation>
    </message>
    <message>
        <source>(no name)</source>
        <translation>（无姓名）</translation>
    </message>
    <message>
        <source>series {what}</source>
        <translation>序列 {what}</translation>
    </message>
    <message>
        <source>Series {study} of {studies}: {completed} completed, {remaining} remaining, {failed} failed</source>
        <translation>第 {study} / {studies} 个序列：已完成 {completed}，剩余 {remaining}，失败 {failed}</translation>
    </message>
    <message>
        <source>Study {study} of {studies}: {completed} completed, {remaining} remaining, {failed} failed</source>
        <translation>第 {study} / {studies} 个检查：已完成 {completed}，剩余 {remaining}，失败 {failed}</translation>
    </message>
    <message>
        <source>Retrieve finished: {imported} images imported, {present} already present</source>
        <translation>获取完成：已导入 {imported} 幅图像，{present} 幅已存在</translation>
    </message>
    <message>
        <source>Retrieve cancelled: {imported} images imported, {present} already present; what arrived is kept.</source>
        <translation>获取已取消：已导入 {imported} 幅图像，{present} 幅已存在；已收到的图像予以保留。</translation>
    </message>
    <message>
        <source>the PACS has no such study</source>
        <translation>PACS 上没有该检查</translation>
    </message>
    <message>
        <source>the PACS reports {count} failed sub-operations</source>
        <translation>PACS 报告 {count} 个子操作失败</translation>
    </message>
    <message>
        <source>final status 0x{status}</source>
        <translation>最终状态 0x{status}</translation>
    </message>
    <message>
        <source>Send to</source>
        <translation>发送到</translation>
    </message>
    <message>
        <source>Sending {count} studies to {node}...</source>
        <translation>正在向 {node} 发送 {count} 个检查...</translation>
    </message>
    <message>
        <source>Sending {done} / {total}</source>
        <translation>正在发送 {done} / {total}</translation>
    </message>
    <message>
        <source>Sent to {node}: {sent} of {total} files, {failed} failed</source>
        <translation>已发送到 {node}：{total} 个文件中的 {sent} 个，失败 {failed} 个</translation>
    </message>
    <message>
        <source>Send</source>
        <translation>发送</translation>
    </message>
    <message>
        <source>Cancelling...</source>
        <translation>正在取消...</translation>
    </message>
    <message>
        <source>Failed: {reason}</source>
        <translation>失败：{reason}</translation>
    </message>
    <message>
        <source>PACS</source>
        <translation>PACS</translation>
    </message>
    <message>
        <source>The operation failed.</source>
        <translation>操作失败。</translation>
    </message>
    <message>
        <source>... and {count} more (see the details)</source>
        <translation>……另有 {count} 项（见详细信息）</translation>
    </message>
</context>
<context>
    <name>PresentationLayer</name>
    <message>
        <source>Presentation states of this image, newest first</source>
        <translation>此图像的显示状态（最新的在前）</translation>
    </message>
    <message>
        <source>No presentation state</source>
        <translation>无显示状态</translation>
    </message>
</context>
<context>
    <name>PrintDialog</name>
    <message>
        <source>Print</source>
        <translation>打印</translation>
    </message>
    <message>
        <source>Printer:</source>
        <translation>打印机：</translation>
    </message>
    <message>
        <source>No printer is configured. Add one with:
dicom-viewer nodes add NAME AE_TITLE HOST PORT</source>
        <translation>尚未配置打印机。请用以下命令添加：
dicom-viewer nodes add NAME AE_TITLE HOST PORT</translation>
    </message>
    <message>
        <source>What to print</source>
        <translation>打印内容</translation>
    </message>
    <message>
        <source>The visible viewports ({n} images)</source>
        <translation>可见的视口（{n} 幅图像）</translation>
    </message>
    <message>
        <source>The whole series of the active viewport ({n} images)</source>
        <translation>当前视口的整个序列（{n} 幅图像）</translation>
    </message>
    <message>
        <source>Key images only, with their presentation states ({n} images)</source>
        <translation>仅关键图像，按其显示状态（{n} 幅图像）</translation>
    </message>
    <message>
        <source>Custom</source>
        <translation>自定义</translation>
    </message>
    <message>
        <source>columns </source>
        <translation>列 </translation>
    </message>
    <message>
        <source>rows </source>
        <translation>行 </translation>
    </message>
    <message>
        <source>Film layout:</source>
        <translation>胶片布局：</translation>
    </message>
    <message>
        <source>Film size:</source>
        <translation>胶片尺寸：</translation>
    </message>
    <message>
        <source>Portrait</source>
        <translation>纵向</translation>
    </message>
    <message>
        <source>Landscape</source>
        <translation>横向</translation>
    </message>
    <message>
        <source>Orientation:</source>
        <translation>方向：</translation>
    </message>
    <message>
        <source>Grayscale, 8 bits</source>
        <translation>灰阶，8 位</translation>
    </message>
    <message>
        <source>Grayscale, 12 bits</source>
        <translation>灰阶，12 位</translation>
    </message>
    <message>
        <source>Colour</source>
        <translation>彩色</translation>
    </message>
    <message>
        <source>Pixels:</source>
        <translation>像素：</translation>
    </message>
    <message>
        <source>Copies:</source>
        <translation>份数：</translation>
    </message>
    <message>
        <source>Printer&apos;s default</source>
        <translation>打印机默认</translation>
    </message>
    <message>
        <source>Medium:</source>
        <translation>介质：</translation>
    </message>
    <message>
        <source>Magnification:</source>
        <translation>放大方式：</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>Close</source>
        <translation>关闭</translation>
    </message>
    <message>
        <source>Nothing to print</source>
        <translation>没有可打印的内容</translation>
    </message>
    <message>
        <source>Composing the preview…</source>
        <translation>正在生成预览…</translation>
    </message>
    <message>
        <source>Film 1 of {films}, {images} images</source>
        <translation>第 1 张胶片，共 {films} 张，{images} 幅图像</translation>
    </message>
    <message>
        <source>No preview: {error}</source>
        <translation>无法预览：{error}</translation>
    </message>
    <message>
        <source>Composing</source>
        <translation>正在排版</translation>
    </message>
    <message>
        <source>Sending to the printer</source>
        <translation>正在发送到打印机</translation>
    </message>
    <message>
        <source>Printing on {printer}…</source>
        <translation>正在 {printer} 上打印…</translation>
    </message>
    <message>
        <source>Cancelling…</source>
        <translation>正在取消…</translation>
    </message>
    <message>
        <source>Printing cancelled.</source>
        <translation>打印已取消。</translation>
    </message>
    <message>
        <source>Printed {printed} of {films} films ({images} images).</source>
        <translation>已打印 {printed}/{films} 张胶片（{images} 幅图像）。</translation>
    </message>
    <message>
        <source>unknown</source>
        <translation>未知</translation>
    </message>
    <message>
        <source>Printer status: {status}</source>
        <translation>打印机状态：{status}</translation>
    </message>
    <message>
        <source>Warning: {warning}</source>
        <translation>警告：{warning}</translation>
    </message>
    <message>
        <source>{attribute} {requested} not taken, the printer uses {used}</source>
        <translation>{attribute} {requested} 未被采用，打印机使用 {used}</translation>
    </message>
    <message>
        <source>Printer event: {event}</source>
        <translation>打印机事件：{event}</translation>
    </message>
    <message>
        <source>Film {film}, box {box} left empty: {reason}</source>
        <translation>第 {film} 张胶片第 {box} 格留空：{reason}</translation>
    </message>
    <message>
        <source>Not printed: {error}</source>
        <translation>未打印：{error}</translation>
    </message>
</context>
<context>
    <name>QualityBadges</name>
    <message>
        <source>Data quality: not validated (its Data quality panel validates it)</source>
        <translation>数据质量：未校验（打开其数据质量面板即校验）</translation>
    </message>
    <message>
        <source>Data quality: being validated</source>
        <translation>数据质量：正在校验</translation>
    </message>
    <message>
        <source>Data quality: no findings</source>
        <translation>数据质量：未发现问题</translation>
    </message>
    <message>
        <source>Data quality: %1 error(s), %2 warning(s)</source>
        <translation>数据质量：%1 个错误，%2 个警告</translation>
    </message>
    <message>
        <source>Data quality: %1</source>
        <translation>数据质量：%1</translation>
    </message>
</context>
<context>
    <name>QualityDialog</name>
    <message>
        <source>Series%1</source>
        <translation>序列%1</translation>
    </message>
    <message>
        <source>%1, image %2</source>
        <translation>%1，图像 %2</translation>
    </message>
    <message>
        <source>Data quality — %1</source>
        <translation>数据质量 — %1</translation>
    </message>
    <message>
        <source>Validate again</source>
        <translation>重新校验</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>Export CSV...</source>
        <translation>导出 CSV...</translation>
    </message>
    <message>
        <source>Export HTML...</source>
        <translation>导出 HTML...</translation>
    </message>
    <message>
        <source>Not validated yet: validating...</source>
        <translation>尚未校验：正在校验...</translation>
    </message>
    <message>
        <source>%1 files checked: %2</source>
        <translation>已检查 %1 个文件：%2</translation>
    </message>
    <message>
        <source>Validation failed: %1</source>
        <translation>校验失败：%1</translation>
    </message>
    <message>
        <source>CSV (*.csv)</source>
        <translation>CSV (*.csv)</translation>
    </message>
    <message>
        <source>HTML (*.html)</source>
        <translation>HTML (*.html)</translation>
    </message>
    <message>
        <source>Export findings</source>
        <translation>导出检查结果</translation>
    </message>
    <message>
        <source>Cannot write %1: %2</source>
        <translation>无法写入 %1：%2</translation>
    </message>
</context>
<context>
    <name>QueryResultModel</name>
    <message>
        <source>Patient name</source>
        <translation>患者姓名</translation>
    </message>
    <message>
        <source>Patient ID</source>
        <translation>患者 ID</translation>
    </message>
    <message>
        <source>Birth date</source>
        <translation>出生日期</translation>
    </message>
    <message>
        <source>Study date</source>
        <translation>检查日期</translation>
    </message>
    <message>
        <source>Description</source>
        <translation>描述</translation>
    </message>
    <message>
        <source>Modalities</source>
        <translation>模态</translation>
    </message>
    <message>
        <source>Accession</source>
        <translation>检查号</translation>
    </message>
    <message>
        <source>Images</source>
        <translation>图像</translation>
    </message>
    <message>
        <source>In archive</source>
        <translation>本地已有</translation>
    </message>
</context>
<context>
    <name>QuotaStatus</name>
    <message>
        <source>Store: {used} (no quota)</source>
        <translation>存储：{used}（无配额）</translation>
    </message>
    <message>
        <source>Set [archive] quota_gb in the config file to bound the store.</source>
        <translation>在配置文件中设置 [archive] quota_gb 以限制存储大小。</translation>
    </message>
    <message>
        <source>Store: {used} of {quota}</source>
        <translation>存储：{used} / 配额 {quota}</translation>
    </message>
    <message>
        <source>; not committed by a PACS: {size}, studies: {count}</source>
        <translation>；未经 PACS 存储确认：{size}，检查数：{count}</translation>
    </message>
    <message>
        <source>Past the quota, the least recently viewed studies that a PACS has committed (storage commitment, every instance) are removed; studies not committed are never removed.</source>
        <translation>超出配额时，将删除最久未查看、且已由 PACS 存储确认（每个实例均已确认）的检查；未经确认的检查永不删除。</translation>
    </message>
    <message>
        <source>The store is over its quota by {size}.</source>
        <translation>存储已超出配额 {size}。</translation>
    </message>
</context>
<context>
    <name>ReadingArea</name>
    <message>
        <source>No series in the active viewport</source>
        <translation>当前视口中没有序列</translation>
    </message>
</context>
<context>
    <name>ReadingObjects</name>
    <message>
        <source>Report</source>
        <translation>报告</translation>
    </message>
    <message>
        <source>Overlays</source>
        <translation>叠加</translation>
    </message>
    <message>
        <source>No series of this study is in the region&apos;s Frame of Reference</source>
        <translation>本检查没有序列位于该区域的参考坐标系中</translation>
    </message>
    <message>
        <source>The image %1 is not open here</source>
        <translation>图像 %1 未在此打开</translation>
    </message>
</context>
<context>
    <name>ReportPanel</name>
    <message>
        <source>Series</source>
        <translation>序列</translation>
    </message>
    <message>
        <source>Events</source>
        <translation>照射事件</translation>
    </message>
    <message>
        <source>CTDIvol (mGy)</source>
        <translation>CTDIvol (mGy)</translation>
    </message>
    <message>
        <source>DLP (mGy·cm)</source>
        <translation>DLP (mGy·cm)</translation>
    </message>
    <message>
        <source>Structured report</source>
        <translation>结构化报告</translation>
    </message>
    <message>
        <source>(no series)</source>
        <translation>（无序列）</translation>
    </message>
    <message>
        <source>Total</source>
        <translation>合计</translation>
    </message>
    <message>
        <source>Quantity</source>
        <translation>剂量量</translation>
    </message>
    <message>
        <source>Value</source>
        <translation>值</translation>
    </message>
    <message>
        <source>Unit</source>
        <translation>单位</translation>
    </message>
</context>
<context>
    <name>SaveKeyImagesDialog</name>
    <message>
        <source>Save key images</source>
        <translation>保存关键图像</translation>
    </message>
    <message numerus="yes">
        <source>%n key image(s) not saved yet.</source>
        <translation>
            <numerusform>%n 幅关键图像尚未保存。</numerusform>
        </translation>
    </message>
    <message>
        <source>Document title:</source>
        <translation>文档标题：</translation>
    </message>
    <message>
        <source>optional</source>
        <translation>可选</translation>
    </message>
    <message>
        <source>Description:</source>
        <translation>描述：</translation>
    </message>
</context>
<context>
    <name>SavePresentation</name>
    <message>
        <source>Save presentation state</source>
        <translation>保存显示状态</translation>
    </message>
    <message>
        <source>Saving needs the archive: open the study from it.</source>
        <translation>保存需要存档：请从存档中打开该检查。</translation>
    </message>
    <message>
        <source>Label:</source>
        <translation>标签：</translation>
    </message>
</context>
<context>
    <name>SaveSeriesDialog</name>
    <message>
        <source>Save as series</source>
        <translation>另存为序列</translation>
    </message>
    <message>
        <source>Planes</source>
        <translation>平面数</translation>
    </message>
    <message>
        <source>Spacing</source>
        <translation>间距</translation>
    </message>
    <message>
        <source>Series description</source>
        <translation>序列描述</translation>
    </message>
    <message>
        <source>Centred on the shown plane, along its normal.</source>
        <translation>以所示平面为中心，沿其法线方向。</translation>
    </message>
    <message>
        <source>Saving needs the archive: open the study from it.</source>
        <translation>保存需要存档：请从存档中打开该检查。</translation>
    </message>
    <message>
        <source>The series is still loading: save once it is in.</source>
        <translation>序列仍在加载：加载完成后再保存。</translation>
    </message>
</context>
<context>
    <name>SeriesListModel</name>
    <message>
        <source>1 image</source>
        <translation>1 幅图像</translation>
    </message>
    <message>
        <source>{count} images</source>
        <translation>{count} 幅图像</translation>
    </message>
</context>
<context>
    <name>SeriesResultModel</name>
    <message>
        <source>Number</source>
        <translation>序号</translation>
    </message>
    <message>
        <source>Modality</source>
        <translation>模态</translation>
    </message>
    <message>
        <source>Description</source>
        <translation>描述</translation>
    </message>
    <message>
        <source>Images</source>
        <translation>图像</translation>
    </message>
    <message>
        <source>In archive</source>
        <translation>本地已有</translation>
    </message>
</context>
<context>
    <name>SeriesThumbnails</name>
    <message>
        <source>No preview</source>
        <translation>无预览</translation>
    </message>
</context>
<context>
    <name>StorageService</name>
    <message>
        <source>Storage SCP: listening as {aet} on {host}:{port} — {count} received</source>
        <translation>存储 SCP：以 {aet} 身份在 {host}:{port} 监听 — 已接收 {count}</translation>
    </message>
    <message>
        <source>, {failed} failed</source>
        <translation>，失败 {failed}</translation>
    </message>
    <message>
        <source>Storage SCP could not start on {host}:{port}: {reason}</source>
        <translation>存储 SCP 无法在 {host}:{port} 启动：{reason}</translation>
    </message>
    <message>
        <source>Storage SCP off (enable [gui] storage_scp in config.toml)</source>
        <translation>存储 SCP 已关闭（在 config.toml 中启用 [gui] storage_scp）</translation>
    </message>
    <message>
        <source>1 connection problem: {time} {peer}: {reason}</source>
        <translation>1 个连接问题：{time} {peer}：{reason}</translation>
    </message>
    <message>
        <source>{count} connection problems; the last: {time} {peer}: {reason}</source>
        <translation>{count} 个连接问题；最近一个：{time} {peer}：{reason}</translation>
    </message>
    <message>
        <source>The last {kept} of {count} connection problems, newest first:</source>
        <translation>{count} 个连接问题中的最近 {kept} 个，最新的在前：</translation>
    </message>
    <message>
        <source>Connection problems, newest first:</source>
        <translation>连接问题，最新的在前：</translation>
    </message>
</context>
<context>
    <name>StudyBrowser</name>
    <message>
        <source>Import folder...</source>
        <translation>导入文件夹...</translation>
    </message>
    <message>
        <source>Import zip...</source>
        <translation>导入 ZIP 文件...</translation>
    </message>
    <message>
        <source>Import CD/DVD (DICOMDIR)...</source>
        <translation>导入 CD/DVD (DICOMDIR)...</translation>
    </message>
    <message>
        <source>Delete</source>
        <translation>删除</translation>
    </message>
    <message>
        <source>Patient name (* ?)</source>
        <translation>患者姓名 (* ?)</translation>
    </message>
    <message>
        <source>Wildcards: * any text, ? one character. Case does not matter.</source>
        <translation>通配符：* 匹配任意文本，? 匹配单个字符。不区分大小写。</translation>
    </message>
    <message>
        <source>Patient ID</source>
        <translation>患者 ID</translation>
    </message>
    <message>
        <source>YYYY-MM-DD, YYYY-MM or YYYY; empty: no limit</source>
        <translation>YYYY-MM-DD、YYYY-MM 或 YYYY；留空表示不限</translation>
    </message>
    <message>
        <source>From YYYY-MM-DD</source>
        <translation>起始日期 YYYY-MM-DD</translation>
    </message>
    <message>
        <source>To YYYY-MM-DD</source>
        <translation>截止日期 YYYY-MM-DD</translation>
    </message>
    <message>
        <source>Dates</source>
        <translation>日期</translation>
    </message>
    <message>
        <source>Any modality</source>
        <translation>全部模态</translation>
    </message>
    <message>
        <source>Search</source>
        <translation>搜索</translation>
    </message>
    <message>
        <source>Today</source>
        <translation>今天</translation>
    </message>
    <message>
        <source>Yesterday</source>
        <translation>昨天</translation>
    </message>
    <message>
        <source>Last 7 days</source>
        <translation>最近 7 天</translation>
    </message>
    <message>
        <source>Last 30 days</source>
        <translation>最近 30 天</translation>
    </message>
    <message>
        <source>Last 12 months</source>
        <translation>最近 12 个月</translation>
    </message>
    <message>
        <source>Any date</source>
        <translation>任意日期</translation>
    </message>
    <message>
        <source>The archive is empty</source>
        <translation>存档中还没有检查</translation>
    </message>
    <message>
        <source>Import studies from a folder, a zip file or a CD/DVD, drop files here, or load a demo study.</source>
        <translation>从文件夹、ZIP 文件或 CD/DVD 导入检查，将文件拖放到此处，或加载演示检查。</translation>
    </message>
    <message>
        <source>Load demo study</source>
        <translation>加载演示检查</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>Studies: {count}</source>
        <translation>检查：{count}</translation>
    </message>
    <message>
        <source>No study matches the search.</source>
        <translation>没有符合搜索条件的检查。</translation>
    </message>
    <message>
        <source>Open</source>
        <translation>打开</translation>
    </message>
    <message>
        <source>Delete...</source>
        <translation>删除...</translation>
    </message>
    <message>
        <source>Export to CD/DVD...</source>
        <translation>导出到 CD/DVD...</translation>
    </message>
    <message>
        <source>Data quality...</source>
        <translation>数据质量...</translation>
    </message>
    <message>
        <source>Refresh</source>
        <translation>刷新</translation>
    </message>
    <message>
        <source>Open series</source>
        <translation>打开序列</translation>
    </message>
    <message>
        <source>Import folder</source>
        <translation>导入文件夹</translation>
    </message>
    <message>
        <source>Import zip</source>
        <translation>导入 ZIP 文件</translation>
    </message>
    <message>
        <source>Zip archives (*.zip);;All files (*)</source>
        <translation>ZIP 压缩文件 (*.zip);;所有文件 (*)</translation>
    </message>
    <message>
        <source>Import CD/DVD</source>
        <translation>导入 CD/DVD</translation>
    </message>
    <message>
        <source>DICOMDIR (DICOMDIR dicomdir);;All files (*)</source>
        <translation>DICOMDIR (DICOMDIR dicomdir);;所有文件 (*)</translation>
    </message>
    <message>
        <source>Importing</source>
        <translation>正在导入</translation>
    </message>
    <message>
        <source>{label}: looking for files...</source>
        <translation>{label}：正在查找文件...</translation>
    </message>
    <message>
        <source>Importing {done} / {total}: {name}</source>
        <translation>正在导入 {done} / {total}：{name}</translation>
    </message>
    <message>
        <source>Import cancelled; the files stored before cancelling are kept.</source>
        <translation>导入已取消；取消前已存储的文件会保留。</translation>
    </message>
    <message>
        <source>Data quality: validating {count} studies...</source>
        <translation>数据质量：正在校验 {count} 个检查...</translation>
    </message>
    <message>
        <source>(no name)</source>
        <translation>（无姓名）</translation>
    </message>
    <message>
        <source>and {count} more</source>
        <translation>等另外 {count} 项</translation>
    </message>
    <message>
        <source>Delete the selected studies from the archive? Their files are removed; this cannot be undone.

Patients: {patients}
Studies: {count}</source>
        <translation>从存档中删除所选检查？其文件将被删除，此操作无法撤销。

患者：{patients}
检查：{count}</translation>
    </message>
    <message>
        <source>Delete studies</source>
        <translation>删除检查</translation>
    </message>
    <message>
        <source>Deleted studies: {count}</source>
        <translation>已删除检查：{count}</translation>
    </message>
    <message>
        <source>Delete cancelled.</source>
        <translation>已取消删除。</translation>
    </message>
    <message>
        <source>Deleting...</source>
        <translation>正在删除...</translation>
    </message>
    <message>
        <source>Delete failed: {reason}</source>
        <translation>删除失败：{reason}</translation>
    </message>
    <message>
        <source>Select the study the photos or documents belong to, then drop them again.</source>
        <translation>请先选择照片或文档所属的检查，然后再次拖放。</translation>
    </message>
</context>
<context>
    <name>StudyTableModel</name>
    <message>
        <source>Patient name</source>
        <translation>患者姓名</translation>
    </message>
    <message>
        <source>Patient ID</source>
        <translation>患者 ID</translation>
    </message>
    <message>
        <source>Birth date</source>
        <translation>出生日期</translation>
    </message>
    <message>
        <source>Study date</source>
        <translation>检查日期</translation>
    </message>
    <message>
        <source>Description</source>
        <translation>描述</translation>
    </message>
    <message>
        <source>Modalities</source>
        <translation>模态</translation>
    </message>
    <message>
        <source>Series</source>
        <translation>序列</translation>
    </message>
    <message>
        <source>Images</source>
        <translation>图像</translation>
    </message>
    <message>
        <source>Size</source>
        <translation>大小</translation>
    </message>
</context>
<context>
    <name>TagBrowser</name>
    <message>
        <source>Tag Browser</source>
        <translation>标签浏览器</translation>
    </message>
    <message>
        <source>Search tag, keyword, name or value</source>
        <translation>搜索标签、关键字、名称或值</translation>
    </message>
    <message>
        <source>{shown} of {total} rows match</source>
        <translation>{total} 行中有 {shown} 行匹配</translation>
    </message>
    <message>
        <source>{total} rows</source>
        <translation>共 {total} 行</translation>
    </message>
    <message>
        <source>Reading the file...</source>
        <translation>正在读取文件...</translation>
    </message>
    <message>
        <source>Cannot read this file: {reason}</source>
        <translation>无法读取此文件：{reason}</translation>
    </message>
</context>
<context>
    <name>TagTreeModel</name>
    <message>
        <source>Tag</source>
        <translation>标签</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>名称</translation>
    </message>
    <message>
        <source>VR</source>
        <translation>VR</translation>
    </message>
    <message>
        <source>Value</source>
        <translation>值</translation>
    </message>
    <message>
        <source>Item {number}</source>
        <translation>第 {number} 项</translation>
    </message>
</context>
<context>
    <name>View3D</name>
    <message>
        <source>CT bone</source>
        <translation>CT 骨骼</translation>
    </message>
    <message>
        <source>CT soft tissue</source>
        <translation>CT 软组织</translation>
    </message>
    <message>
        <source>CT lung</source>
        <translation>CT 肺</translation>
    </message>
    <message>
        <source>CT angio</source>
        <translation>CT 血管造影</translation>
    </message>
    <message>
        <source>MR default</source>
        <translation>MR 默认</translation>
    </message>
    <message>
        <source>Volume rendering</source>
        <translation>容积再现</translation>
    </message>
    <message>
        <source>MIP</source>
        <translation>最大密度投影</translation>
    </message>
    <message>
        <source>Clip box</source>
        <translation>裁剪框</translation>
    </message>
    <message>
        <source>Reset view</source>
        <translation>重置视图</translation>
    </message>
    <message>
        <source>3D view unavailable: %1</source>
        <translation>三维视图不可用：%1</translation>
    </message>
    <message>
        <source>Shaded at 1/%1 resolution</source>
        <translation>以 1/%1 分辨率着色</translation>
    </message>
    <message>
        <source>Loading…</source>
        <translation>正在加载…</translation>
    </message>
</context>
<context>
    <name>Viewport</name>
    <message>
        <source>No pixel spacing: lengths and areas in pixels</source>
        <translation>无像素间距：长度和面积以像素为单位</translation>
    </message>
    <message>
        <source>Cannot decode: %1</source>
        <translation>无法解码：%1</translation>
    </message>
    <message>
        <source>No image in this series</source>
        <translation>此序列中没有图像</translation>
    </message>
    <message>
        <source>Lengths: Pixel Spacing, calibrated: %1</source>
        <translation>长度：像素间距，已校准：%1</translation>
    </message>
    <message>
        <source>Lengths: Pixel Spacing, calibrated (method not stated)</source>
        <translation>长度：像素间距，已校准（未注明方法）</translation>
    </message>
    <message>
        <source>Lengths: Pixel Spacing (calibration not stated)</source>
        <translation>长度：像素间距（未注明校准）</translation>
    </message>
    <message>
        <source>Lengths: Imager Pixel Spacing corrected by magnification %1</source>
        <translation>长度：成像器像素间距，已按放大率 %1 校正</translation>
    </message>
    <message>
        <source>Lengths: Imager Pixel Spacing at the detector (not corrected for magnification)</source>
        <translation>长度：探测器平面的成像器像素间距（未做放大率校正）</translation>
    </message>
    <message>
        <source>Lengths: ultrasound regions %1</source>
        <translation>长度：超声区域 %1</translation>
    </message>
    <message>
        <source>Outside the ultrasound regions</source>
        <translation>在超声区域之外</translation>
    </message>
    <message>
        <source>Across regions %1: not measured</source>
        <translation>跨越区域 %1：不予测量</translation>
    </message>
    <message>
        <source>Region %1 (%2): no area or angle</source>
        <translation>区域 %1（%2）：不测面积或角度</translation>
    </message>
    <message>
        <source>Region %1 has no physical units</source>
        <translation>区域 %1 没有物理单位</translation>
    </message>
    <message>
        <source>region %1</source>
        <translation>区域 %1</translation>
    </message>
    <message>
        <source>%1 px</source>
        <translation>%1 像素</translation>
    </message>
    <message>
        <source>no pixels</source>
        <translation>无像素</translation>
    </message>
    <message>
        <source>Mean %1 SD %2</source>
        <translation>均值 %1 标准差 %2</translation>
    </message>
    <message>
        <source>Min %1 Max %2</source>
        <translation>最小值 %1 最大值 %2</translation>
    </message>
    <message>
        <source>Im:</source>
        <translation>图像:</translation>
    </message>
    <message>
        <source>Loc:</source>
        <translation>位置:</translation>
    </message>
    <message>
        <source>Thk:</source>
        <translation>层厚:</translation>
    </message>
    <message>
        <source>W:</source>
        <translation>窗宽:</translation>
    </message>
    <message>
        <source>L:</source>
        <translation>窗位:</translation>
    </message>
    <message>
        <source>Zoom:</source>
        <translation>缩放:</translation>
    </message>
    <message>
        <source>LOSSY</source>
        <translation>有损压缩</translation>
    </message>
    <message>
        <source>ID:</source>
        <translation>ID:</translation>
    </message>
    <message>
        <source>DOB:</source>
        <translation>出生日期:</translation>
    </message>
    <message>
        <source>Sex:</source>
        <translation>性别:</translation>
    </message>
    <message>
        <source>Se:</source>
        <translation>序列:</translation>
    </message>
    <message>
        <source>Y</source>
        <translation>岁</translation>
    </message>
    <message>
        <source>M</source>
        <translation>月</translation>
    </message>
    <message>
        <source>D</source>
        <translation>天</translation>
    </message>
</context>
<context>
    <name>ViewportWarnings</name>
    <message>
        <source>Slices missing in this series: distances across slices and reformats are wrong</source>
        <translation>此序列缺少层面：跨层距离和重建图像不正确</translation>
    </message>
    <message>
        <source>Uneven slice spacing: distances across slices and reformats are distorted</source>
        <translation>层间距不均匀：跨层距离和重建图像有畸变</translation>
    </message>
    <message>
        <source>%1 may be shown wrongly: not in its declared character set</source>
        <translation>%1 可能显示错误：不在其声明的字符集中</translation>
    </message>
    <message>
        <source>Pixel Spacing missing: lengths and areas are in pixels, not mm</source>
        <translation>缺少像素间距：长度和面积以像素计，而非毫米</translation>
    </message>
</context>
<context>
    <name>WebStudyOpener</name>
    <message>
        <source>Opening the study from {node}...</source>
        <translation>正在从 {node} 打开检查...</translation>
    </message>
    <message>
        <source>{node}: the first instance cannot be shown: {reason}</source>
        <translation>{node}：无法显示第一个实例：{reason}</translation>
    </message>
    <message>
        <source>{node}: the study has no image to show</source>
        <translation>{node}：该检查没有可显示的图像</translation>
    </message>
    <message>
        <source>{node}: {arrived} of {count} images arrived...</source>
        <translation>{node}：已到达 {arrived} / {count} 幅图像...</translation>
    </message>
    <message>
        <source>the image did not arrive</source>
        <translation>图像未到达</translation>
    </message>
    <message>
        <source>{error} ({arrived} of {expected} images arrived; kept)</source>
        <translation>{error}（已到达 {arrived} / {expected} 幅图像，已保留）</translation>
    </message>
    <message>
        <source>{node}: all {count} images in the archive</source>
        <translation>{node}：全部 {count} 幅图像已存入本地存档</translation>
    </message>
</context>
<context>
    <name>WorklistModel</name>
    <message>
        <source>Scheduled</source>
        <translation>预约时间</translation>
    </message>
    <message>
        <source>Modality</source>
        <translation>模态</translation>
    </message>
    <message>
        <source>Station AE</source>
        <translation>设备 AE</translation>
    </message>
    <message>
        <source>Patient name</source>
        <translation>患者姓名</translation>
    </message>
    <message>
        <source>Patient ID</source>
        <translation>患者 ID</translation>
    </message>
    <message>
        <source>Accession</source>
        <translation>检查号</translation>
    </message>
    <message>
        <source>Requested procedure</source>
        <translation>申请的检查项目</translation>
    </message>
    <message>
        <source>Performed step</source>
        <translation>执行步骤</translation>
    </message>
</context>
<context>
    <name>WorklistPanel</name>
    <message>
        <source>No node is configured. Add the worklist&apos;s with:  dicom-viewer nodes add NAME AET HOST PORT</source>
        <translation>尚未配置节点。添加工作列表节点：  dicom-viewer nodes add NAME AET HOST PORT</translation>
    </message>
    <message>
        <source>(choose a node)</source>
        <translation>（选择节点）</translation>
    </message>
    <message>
        <source>(the worklist node)</source>
        <translation>（工作列表节点）</translation>
    </message>
    <message>
        <source>Where Start, Complete and Discontinue send the performed procedure step (MPPS)</source>
        <translation>开始、完成和中止将执行的检查步骤（MPPS）发送到此节点</translation>
    </message>
    <message>
        <source>Worklist node:</source>
        <translation>工作列表节点：</translation>
    </message>
    <message>
        <source>MPPS node:</source>
        <translation>MPPS 节点：</translation>
    </message>
    <message>
        <source>Any date</source>
        <translation>任意日期</translation>
    </message>
    <message>
        <source>Any modality</source>
        <translation>全部模态</translation>
    </message>
    <message>
        <source>Station AE title</source>
        <translation>设备 AE 名称</translation>
    </message>
    <message>
        <source>Patient name (* ?)</source>
        <translation>患者姓名 (* ?)</translation>
    </message>
    <message>
        <source>Patient ID</source>
        <translation>患者 ID</translation>
    </message>
    <message>
        <source>Search</source>
        <translation>搜索</translation>
    </message>
    <message>
        <source>Scheduled:</source>
        <translation>预约日期：</translation>
    </message>
    <message>
        <source>Start</source>
        <translation>开始</translation>
    </message>
    <message>
        <source>Tell the RIS the procedure has begun (MPPS N-CREATE, IN PROGRESS)</source>
        <translation>通知 RIS 检查已开始（MPPS N-CREATE，IN PROGRESS）</translation>
    </message>
    <message>
        <source>Complete</source>
        <translation>完成</translation>
    </message>
    <message>
        <source>Tell the RIS the procedure is done, with the series it made (MPPS N-SET)</source>
        <translation>通知 RIS 检查已完成，并附上生成的序列（MPPS N-SET）</translation>
    </message>
    <message>
        <source>Discontinue</source>
        <translation>中止</translation>
    </message>
    <message>
        <source>DICOMize files for this item…</source>
        <translation>为此项目转换文件为 DICOM…</translation>
    </message>
    <message>
        <source>Photos (JPEG, PNG) or documents (PDF) into DICOM for the patient and order of the selected item; you can also drop the files on this panel</source>
        <translation>将照片（JPEG、PNG）或文档（PDF）按所选项目的患者和申请转换为 DICOM；也可以把文件拖放到此面板</translation>
    </message>
    <message>
        <source>Select one item.</source>
        <translation>请选择一个项目。</translation>
    </message>
    <message>
        <source>Accession {accession}: not started</source>
        <translation>检查号 {accession}：未开始</translation>
    </message>
    <message>
        <source>Accession {accession}: {status}</source>
        <translation>检查号 {accession}：{status}</translation>
    </message>
    <message>
        <source>The choice of node is not kept: {reason}</source>
        <translation>节点选择未能保存：{reason}</translation>
    </message>
    <message>
        <source>Worklist query failed: {reason}</source>
        <translation>工作列表查询失败：{reason}</translation>
    </message>
    <message>
        <source>Asking {node} for its worklist...</source>
        <translation>正在向 {node} 查询工作列表...</translation>
    </message>
    <message>
        <source>Scheduled procedure steps on {peer}: {count}</source>
        <translation>{peer} 上的预约检查步骤：{count}</translation>
    </message>
    <message>
        <source>text problems: {count} (hover for details)</source>
        <translation>文本问题：{count}（悬停查看详情）</translation>
    </message>
    <message>
        <source>answers that could not be read: {count}</source>
        <translation>无法读取的应答：{count}</translation>
    </message>
    <message>
        <source>Started on {node}: accession {accession} is IN PROGRESS (MPPS {uid})</source>
        <translation>已在 {node} 上开始：检查号 {accession} 为 IN PROGRESS（MPPS {uid}）</translation>
    </message>
    <message>
        <source>Start failed: {reason}</source>
        <translation>开始失败：{reason}</translation>
    </message>
    <message>
        <source>Starting the step on {node}...</source>
        <translation>正在 {node} 上开始检查步骤...</translation>
    </message>
    <message>
        <source>{status} not sent: the step has not been started</source>
        <translation>{status} 未发送：检查步骤尚未开始</translation>
    </message>
    <message>
        <source>{status} not sent: {reason}</source>
        <translation>{status} 未发送：{reason}</translation>
    </message>
    <message>
        <source>Accession {accession} {status} on {node} with {count} series</source>
        <translation>检查号 {accession} 已在 {node} 上设为 {status}，共 {count} 个序列</translation>
    </message>
    <message>
        <source>COMPLETED failed: {reason}</source>
        <translation>COMPLETED 失败：{reason}</translation>
    </message>
    <message>
        <source>DISCONTINUED failed: {reason}</source>
        <translation>DISCONTINUED 失败：{reason}</translation>
    </message>
    <message>
        <source>Sending {status} to {node}...</source>
        <translation>正在向 {node} 发送 {status}...</translation>
    </message>
    <message>
        <source>DICOMize files for this item</source>
        <translation>为此项目转换文件为 DICOM</translation>
    </message>
    <message>
        <source>Photos and documents (*.jpg *.jpeg *.png *.pdf);;All files (*)</source>
        <translation>照片和文档 (*.jpg *.jpeg *.png *.pdf);;所有文件 (*)</translation>
    </message>
    <message>
        <source>Select the worklist item the files are for.</source>
        <translation>请选择这些文件所属的工作列表项目。</translation>
    </message>
    <message>
        <source>Files to DICOMize for accession {accession}: {count}</source>
        <translation>检查号 {accession} 待转换为 DICOM 的文件：{count}</translation>
    </message>
</context>
<context>
    <name>_ClipBox</name>
    <message>
        <source>Right – Left</source>
        <translation>右 – 左</translation>
    </message>
    <message>
        <source>Anterior – Posterior</source>
        <translation>前 – 后</translation>
    </message>
    <message>
        <source>Foot – Head</source>
        <translation>足 – 头</translation>
    </message>
</context>
</TS>
